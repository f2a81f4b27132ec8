// Runs charts/stratopt/argocd/health.lua the way Argo CD runs a resource health check:
// in gopher-lua (the interpreter Argo CD embeds), with the resource as the global `obj`,
// against every case of health_test.yaml (Argo CD's layout for such tests).
package health

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"
)

const scripts = "../../charts/stratopt/argocd"

// recordings is where health_test.yaml and the recorded resources are read from: the
// chart's testdata, or STRATOPT_HEALTH_RECORDINGS when a cluster test has recorded live
// resources in that layout.
func recordings() string {
	if dir := os.Getenv("STRATOPT_HEALTH_RECORDINGS"); dir != "" {
		return dir
	}
	return scripts
}

type healthStatus struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

type testCase struct {
	HealthStatus healthStatus `json:"healthStatus"`
	InputPath    string       `json:"inputPath"`
}

// toLua converts decoded JSON into Lua values: objects to tables, arrays to 1-based tables.
func toLua(state *lua.LState, value interface{}) lua.LValue {
	switch v := value.(type) {
	case map[string]interface{}:
		table := state.NewTable()
		for key, item := range v {
			table.RawSetString(key, toLua(state, item))
		}
		return table
	case []interface{}:
		table := state.NewTable()
		for _, item := range v {
			table.Append(toLua(state, item))
		}
		return table
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case bool:
		return lua.LBool(v)
	default:
		return lua.LNil
	}
}

func assess(t *testing.T, script string, resource map[string]interface{}) healthStatus {
	t.Helper()
	state := lua.NewState(lua.Options{SkipOpenLibs: false})
	defer state.Close()
	state.SetGlobal("obj", toLua(state, resource))
	if err := state.DoString(script); err != nil {
		t.Fatalf("the script failed: %v", err)
	}
	table, ok := state.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("the script returned %v, not a table", state.Get(-1))
	}
	return healthStatus{
		Status:  lua.LVAsString(table.RawGetString("status")),
		Message: lua.LVAsString(table.RawGetString("message")),
	}
}

func TestHealthOfEveryRecordedPhase(t *testing.T) {
	script, err := os.ReadFile(filepath.Join(scripts, "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(recordings(), "health_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cases struct {
		Tests []testCase `json:"tests"`
	}
	if err := yaml.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases.Tests) == 0 {
		t.Fatal("health_test.yaml has no tests")
	}
	statuses := map[string]bool{}
	for _, c := range cases.Tests {
		t.Run(c.InputPath, func(t *testing.T) {
			input, err := os.ReadFile(filepath.Join(recordings(), c.InputPath))
			if err != nil {
				t.Fatal(err)
			}
			asJSON, err := yaml.YAMLToJSON(input)
			if err != nil {
				t.Fatal(err)
			}
			var resource map[string]interface{}
			if err := json.Unmarshal(asJSON, &resource); err != nil {
				t.Fatal(err)
			}
			got := assess(t, string(script), resource)
			if got != c.HealthStatus {
				t.Errorf("got %+v, want %+v", got, c.HealthStatus)
			}
		})
		statuses[c.HealthStatus.Status] = true
	}
	for _, status := range []string{"Progressing", "Suspended", "Healthy", "Degraded"} {
		if !statuses[status] {
			t.Errorf("no case expects %s", status)
		}
	}
}

// The ready argocd-cm patch embeds the same script for each kind.
func TestArgoCDConfigMapCarriesTheScriptForEveryKind(t *testing.T) {
	script, err := os.ReadFile(filepath.Join(scripts, "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(scripts, "argocd-cm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var configMap struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(raw, &configMap); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"OptimizationRun", "FeatureAnalysis", "ForecastRun"} {
		key := "resource.customizations.health.stratopt.io_" + kind
		if configMap.Data[key] != string(script) {
			t.Errorf("%s is missing or differs from health.lua", key)
		}
	}
}
