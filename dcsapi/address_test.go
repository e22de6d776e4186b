package dcsapi_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// The connection fields: each in its documented type, in the other types
// the SDK and the example answer give, and in types that cannot mean it,
// which cost that field only.
func TestDecodeInstancesConnection(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name, fields string
		want         dcsapi.Instance
	}{
		{
			name:   "as the example answer",
			fields: `"ip":"192.168.0.195","port":6379,"domain_name":"redis-a.dcs.example","no_password_access":true,"enable_ssl":false`,
			want: dcsapi.Instance{IPs: []string{"192.168.0.195"}, Port: 6379, DomainName: "redis-a.dcs.example",
				NoPasswordAccess: &yes, EnableSSL: &no},
		},
		{
			name:   "as the SDK types them",
			fields: `"ip":"10.0.0.1,10.0.0.2, 10.0.0.3","port":"6380","no_password_access":"false","enable_ssl":true`,
			want:   dcsapi.Instance{IPs: []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}, Port: 6380, NoPasswordAccess: &no, EnableSSL: &yes},
		},
		{
			name:   "full-width commas and empty entries",
			fields: `"ip":"192.168.0.1，192.168.0.2,,","no_password_access":"TRUE"`,
			want:   dcsapi.Instance{IPs: []string{"192.168.0.1", "192.168.0.2"}, NoPasswordAccess: &yes},
		},
		{
			name:   "no address",
			fields: `"ip":"","port":0,"domain_name":null,"no_password_access":null,"enable_ssl":null`,
			want:   dcsapi.Instance{},
		},
		{
			name:   "odd types",
			fields: `"ip":192168,"port":70000,"domain_name":7,"no_password_access":1,"enable_ssl":"yes"`,
			want:   dcsapi.Instance{},
		},
		{
			name:   "odd port and list types",
			fields: `"ip":["10.0.0.1"],"port":6379.5,"no_password_access":"maybe","enable_ssl":{}`,
			want:   dcsapi.Instance{},
		},
		{
			name:   "negative port",
			fields: `"ip":" 10.0.0.9 ","port":-1`,
			want:   dcsapi.Instance{IPs: []string{"10.0.0.9"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, _, err := dcsapi.DecodeInstances([]byte(`{"instance_num":1,"instances":[{"instance_id":"a","name":"kept",` + tc.fields + `}]}`))
			if err != nil {
				t.Fatal(err)
			}
			tc.want.ID, tc.want.Name = "a", "kept"
			if len(list) != 1 || !reflect.DeepEqual(list[0], tc.want) {
				t.Errorf("got %+v\nwant %+v", list, tc.want)
			}
		})
	}
}

// TestListConnection: the fake's addresses, ports, domain names and
// password and TLS settings come through the client.
func TestListConnection(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, []dcsapitest.Instance{
		{ID: "cluster", Engine: "Redis", Status: "RUNNING", IPs: []string{"10.1.0.1", "10.1.0.2"}, Port: 6380,
			DomainName: "c.dcs.example", PasswordRequired: true, EnableSSL: true},
		{ID: "memcached", Engine: "Memcached", Status: "RUNNING"},
		{ID: "failed", Engine: "Redis", Status: "CREATEFAILED", NoAddress: true},
	})
	got, err := e.client(nil).ListInstances(ctxFor(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d instances", len(got))
	}
	c, m, f := got[0], got[1], got[2]
	if !reflect.DeepEqual(c.IPs, []string{"10.1.0.1", "10.1.0.2"}) || c.Port != 6380 || c.DomainName != "c.dcs.example" ||
		c.NoPasswordAccess == nil || *c.NoPasswordAccess || c.EnableSSL == nil || !*c.EnableSSL {
		t.Errorf("cluster: %+v", c)
	}
	if len(m.IPs) != 1 || m.Port != 11211 || m.DomainName != "memcached.dcs.huaweicloud.com" ||
		m.NoPasswordAccess == nil || !*m.NoPasswordAccess || m.EnableSSL == nil || *m.EnableSSL {
		t.Errorf("memcached: %+v", m)
	}
	if f.IPs != nil {
		t.Errorf("an instance without address got %v", f.IPs)
	}
}
