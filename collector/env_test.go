package collector_test

import (
	"testing"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/collector/exposition"
	"github.com/dcs-exporter/dcs_exporter/collector/internal/testenv"
)

// The shared test setting (see package testenv), by the names these tests
// use.

type env = testenv.Env

func newEnv(t *testing.T, opts collector.Options, targetsYAML string) *env {
	t.Helper()
	return testenv.New(t, opts, targetsYAML)
}

const (
	projectA   = testenv.ProjectA
	projectB   = testenv.ProjectB
	targetA    = testenv.TargetA
	targetB    = testenv.TargetB
	listedA    = testenv.ListedA
	taggedA    = testenv.TaggedA
	prodLabels = testenv.ProdLabels
	prodUp     = testenv.ProdUp
)

var (
	smallFleet      = testenv.SmallFleet
	compareGolden   = testenv.CompareGolden
	lint            = testenv.Lint
	waitFor         = testenv.WaitFor
	linesOf         = testenv.LinesOf
	series          = testenv.Series
	instanceIDs     = testenv.InstanceIDs
	perInstance     = testenv.PerInstance
	sampleValue     = testenv.SampleValue
	instanceIDLabel = testenv.InstanceIDLabel
)

type (
	collectorInstanceNodes = exposition.InstanceNodes
	collectorNode          = exposition.Node
)
