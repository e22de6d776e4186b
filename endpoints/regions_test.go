package endpoints_test

import (
	"testing"

	"github.com/dcs-exporter/dcs_exporter/endpoints"
)

func TestDefaultEndpoints(t *testing.T) {
	tests := []struct {
		region, dcs, iam string
		known            bool
	}{
		{"cn-north-4", "https://dcs.cn-north-4.myhuaweicloud.com", "https://iam.cn-north-4.myhuaweicloud.com", true},
		{"ap-southeast-1", "https://dcs.ap-southeast-1.myhuaweicloud.com", "https://iam.ap-southeast-1.myhuaweicloud.com", true},
		// The one region whose IAM is on another domain.
		{"eu-west-101", "https://dcs.eu-west-101.myhuaweicloud.com", "https://iam.eu-west-101.myhuaweicloud.eu", true},
		// In the SDK's DCS table but not its IAM one: the SDK's global IAM.
		{"ap-southeast-5", "https://dcs.ap-southeast-5.myhuaweicloud.com", "https://iam.myhuaweicloud.com", true},
		{"ru-northwest-2", "https://dcs.ru-northwest-2.myhuaweicloud.com", "https://iam.myhuaweicloud.com", true},
		// Unknown: the pattern, flagged as a guess.
		{"eu-de", "https://dcs.eu-de.myhuaweicloud.com", "https://iam.eu-de.myhuaweicloud.com", false},
		{"xx-new-9", "https://dcs.xx-new-9.myhuaweicloud.com", "https://iam.xx-new-9.myhuaweicloud.com", false},
	}
	for _, tt := range tests {
		dcs, iam, known := endpoints.Default(tt.region)
		if dcs != tt.dcs || iam != tt.iam || known != tt.known {
			t.Errorf("Default(%q) = %q, %q, %v; want %q, %q, %v", tt.region, dcs, iam, known, tt.dcs, tt.iam, tt.known)
		}
	}
}
