package dpu_test

import (
	"bytes"
	"html"
	"strings"
	"testing"

	"argus/compiler/dpu"
	"argus/compiler/partition"
	"argus/dpu/target"
)

// TestWriteHTML checks that the report names every layer with its device,
// the reason of a CPU layer, and every fused group's template.
func TestWriteHTML(t *testing.T) {
	m := inception(t)
	tg, err := target.Lookup("zu9")
	if err != nil {
		t.Fatal(err)
	}
	plan := partition.Split(m, tg)
	plan.Placements[2].Device, plan.Placements[2].Reason = partition.CPU, "forced onto the CPU by the test"
	plan.Group()
	p, err := dpu.Compile(m, tg, plan, dpu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Summarize()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := s.WriteHTML(&b, "inception"); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	want := []string{"<h1>inception for zu9</h1>", "forced onto the CPU by the test", `<tr class="cpu">`}
	for _, l := range m.Layers {
		want = append(want, "<td>"+html.EscapeString(l.Name)+"</td>")
	}
	if len(s.FusedGroups) == 0 {
		t.Fatal("no fused groups to report")
	}
	for _, g := range s.FusedGroups {
		want = append(want, html.EscapeString(g.Template))
	}
	for _, w := range want {
		if !strings.Contains(page, w) && !strings.Contains(page, strings.ReplaceAll(w, "+", "&#43;")) {
			t.Errorf("report lacks %q", w)
		}
	}
	if !strings.HasSuffix(strings.TrimSpace(page), "</html>") {
		t.Error("report is not a whole page")
	}
}
