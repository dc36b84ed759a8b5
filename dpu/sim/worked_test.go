package sim

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWorkedExample holds the simulator to the cycle-by-cycle example
// worked by hand in docs/DPU-ISA.md.
func TestWorkedExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "DPU-ISA.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i := strings.Index(s, "<!-- worked example: checked by TestWorkedExample -->")
	j := strings.Index(s, "<!-- end of worked example -->")
	if i < 0 || j < i {
		t.Fatal("docs/DPU-ISA.md lacks the worked example markers")
	}
	section := s[i:j]
	var wantRows []string
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "| ") && line[2] >= '0' && line[2] <= '9' {
			wantRows = append(wantRows, line)
		}
	}
	rep, err := Run(loadExample(t, "conv_relu_pool.s"), mustTarget(t, "b4096"), make([]byte, 0x1840), Options{Trace: true})
	if err != nil {
		t.Fatal(err)
	}
	var gotRows []string
	for idx := range len(rep.Events) {
		for _, e := range rep.Events {
			if e.Index == idx {
				gotRows = append(gotRows, fmt.Sprintf("| %d | %s | %s | %d | %d |", e.Index, e.Name, e.Engine, e.Start, e.End))
			}
		}
	}
	if strings.Join(gotRows, "\n") != strings.Join(wantRows, "\n") {
		t.Fatalf("simulator timeline:\n%s\ndocument:\n%s", strings.Join(gotRows, "\n"), strings.Join(wantRows, "\n"))
	}
	if want := fmt.Sprintf("Report: cycles %d, ops %d, ddr_bytes %d.", rep.Cycles, rep.Ops, rep.DDRBytes); !strings.Contains(section, want) {
		t.Fatalf("document lacks %q", want)
	}
}
