package collector

import (
	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
)

// Config returns the target's resolved configuration.
func (t *Target) Config() config.Target { return t.cfg }

// Client returns the target's API client, for checks that call the API
// outside the refresh loop (--dcs.check) with exactly the client, transport
// and credentials the exporter itself uses.
func (t *Target) Client() *dcsapi.Client { return t.client }
