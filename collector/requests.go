package collector

// This file counts a target's API calls by API and status code, for
// dcs_api_requests_total.

import (
	"sort"
	"sync"

	"github.com/dcs-exporter/dcs_exporter/collector/exposition"
)

// RequestCount is the number of a target's API calls that ended with one
// code.
type RequestCount = exposition.RequestCount

// requestCounts counts a target's API calls by API and status code.
type requestCounts struct {
	mu     sync.Mutex
	counts map[[2]string]uint64
	onAdd  func()
}

func (r *requestCounts) add(api, code string) {
	r.mu.Lock()
	if r.counts == nil {
		r.counts = map[[2]string]uint64{}
	}
	r.counts[[2]string{api, code}]++
	r.mu.Unlock()
	if r.onAdd != nil {
		r.onAdd()
	}
}

func (r *requestCounts) snapshot() []RequestCount {
	r.mu.Lock()
	out := make([]RequestCount, 0, len(r.counts))
	for k, n := range r.counts {
		out = append(out, RequestCount{API: k[0], Code: k[1], N: n})
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].API != out[j].API {
			return out[i].API < out[j].API
		}
		return out[i].Code < out[j].Code
	})
	return out
}
