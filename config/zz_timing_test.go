package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestZZBig(t *testing.T) {
	var b strings.Builder
	b.WriteString("defaults: {credentials: {env: true}}\nlabels: &l\n")
	_ = b
	var s strings.Builder
	s.WriteString("defaults:\n  credentials: {env: true}\n  labels: &l\n")
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&s, "    l%d: v\n", i)
	}
	s.WriteString("targets:\n")
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&s, "  - {name: t%d, region: cn-north-4, labels: *l}\n", i)
	}
	start := time.Now()
	_, err := Parse([]byte(s.String()), "x.yml")
	t.Logf("len %d took %v err %v", s.Len(), time.Since(start), err)
	deep := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	start = time.Now()
	_, err = Parse([]byte(deep), "x.yml")
	t.Logf("deep took %v err %v", time.Since(start), err)
}
