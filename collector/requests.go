package collector

// This file counts a target's API calls by API and status code, for
// dcs_api_requests_total.

import (
	"sort"
	"sync"
)

// requestCounts counts a target's API calls by API and status code.
type requestCounts struct {
	mu     sync.Mutex
	counts map[[2]string]uint64
	onAdd  func()
}

type requestCount struct {
	api, code string
	n         uint64
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

func (r *requestCounts) snapshot() []requestCount {
	r.mu.Lock()
	out := make([]requestCount, 0, len(r.counts))
	for k, n := range r.counts {
		out = append(out, requestCount{k[0], k[1], n})
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].api != out[j].api {
			return out[i].api < out[j].api
		}
		return out[i].code < out[j].code
	})
	return out
}
