package dcsapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// FuzzListPage checks the page-size bound of the listing on any page: the
// scan that counts a page's instances before it is decoded never counts
// fewer than encoding/json finds (fewer would let an oversized page
// through), and a page the decoder accepts holds at most the instances
// asked for.
func FuzzListPage(f *testing.F) {
	page := func(key string, n int) []byte {
		var b strings.Builder
		b.WriteString(`{"instance_num": 3, "` + key + `": [`)
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"instance_id": "i%d", "name": "a\"],[{", "tags": [{"key": "k"}]}`, i)
		}
		b.WriteString(`], "other": [1, 2, 3]}`)
		return []byte(b.String())
	}
	f.Add(page("instances", 3), 3)
	f.Add(page("Instances", 4), 3)
	f.Add(page(`instance\u0073`, 2), 1)
	f.Add([]byte(`{"instances": [1, "x", null, [], {}], "instances": [{"instance_id": "a"}], "instance_num": 1}`), 2)
	f.Add([]byte(`{"instance_num": 0, "instances": []}`), 1)
	f.Fuzz(func(t *testing.T, body []byte, limit int) {
		limit = limit%(ListPageSize+1) + 1
		if limit <= 0 {
			limit += ListPageSize + 1
		}
		counted := countItems(body, "instances")
		var doc struct {
			Instances []json.RawMessage `json:"instances"`
		}
		if json.Unmarshal(body, &doc) == nil && len(doc.Instances) > counted {
			t.Fatalf("counted %d items, encoding/json finds %d in %q", counted, len(doc.Instances), body)
		}
		var p listPage
		if decodeListPage(body, &p, limit) == nil && len(p.instances) > limit {
			t.Fatalf("a page of %d instances accepted with limit %d", len(p.instances), limit)
		}
	})
}
