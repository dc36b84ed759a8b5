// Package golden reads the reference outputs that tests compare against:
// JSON files under a package's testdata/, written from a trusted tool
// (PyTorch, scipy, sklearn, pycocotools, torchreid, ...) by a script
// committed under tools/.
//
// There is no -update flag: a golden file holds what the reference tool
// computes, so regenerating it from argus's own output would make the test
// compare argus with itself. Rerun the script under tools/ instead.
package golden

import (
	"encoding/json"
	"os"
	"testing"
)

// Load decodes the JSON file at path into v. A file that cannot be read or
// decoded fails the test, naming the file.
func Load(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("golden %s: %v", path, err)
	}
}
