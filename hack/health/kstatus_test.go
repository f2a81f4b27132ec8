// kstatus (sigs.k8s.io/cli-utils), which Flux's health checks use, reads the same recorded
// statuses as the Argo CD check: it must find each step of a run's life where the
// conventions put it.
package health

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

func TestKstatusOfEveryRecordedPhase(t *testing.T) {
	expected := map[string]status.Status{
		"running":   status.InProgressStatus,
		"changed":   status.InProgressStatus, // observedGeneration lags generation
		"waiting":   status.InProgressStatus, // for its FeatureAnalysis
		"queued":    status.InProgressStatus, // Kueue holds its Job
		"suspended": status.CurrentStatus,    // kstatus has no suspended state
		"stalled":   status.FailedStatus,
		"failed":    status.FailedStatus,
		"succeeded": status.CurrentStatus,
	}
	for name, want := range expected {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(recordings(), "testdata", name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			asJSON, err := yaml.YAMLToJSON(raw)
			if err != nil {
				t.Fatal(err)
			}
			// As the API server serves it: integers stay integers.
			var resource unstructured.Unstructured
			if err := resource.UnmarshalJSON(asJSON); err != nil {
				t.Fatal(err)
			}
			result, err := status.Compute(&resource)
			if err != nil {
				t.Fatal(err)
			}
			if result.Status != want {
				t.Errorf("kstatus says %s (%s), want %s", result.Status, result.Message, want)
			}
		})
	}
}
