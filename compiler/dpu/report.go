package dpu

import (
	"fmt"
	"html/template"
	"io"
	"strings"

	"argus/compiler/partition"
	"argus/compiler/quant"
)

// engineOf names the DPU engine that runs a layer kind.
var engineOf = map[string]string{
	string(quant.OpConv): "conv", string(quant.OpFC): "conv", string(quant.OpDepthwise): "depthwise (ALU)",
	string(quant.OpMaxPool): "pool", string(quant.OpAvgPool): "pool",
	string(quant.OpAdd): "eltwise", string(quant.OpMul): "eltwise", string(quant.OpReLU): "eltwise", string(quant.OpReLU6): "eltwise",
	string(quant.OpConcat): "load/save", string(quant.OpFlatten): "none (same bytes)",
}

// reportRow is one layer of the HTML report.
type reportRow struct {
	LayerRow
	Engine, Why, Group string
	Share              float64 // of the program's cycles, for the bar
}

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":  func(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) },
	"ms":   func(s float64) string { return fmt.Sprintf("%.3f", 1e3*s) },
	"g":    func(f float64) string { return fmt.Sprintf("%.3g", f) },
	"w":    func(f float64) string { return fmt.Sprintf("%.1f", 200*f) },
	"join": func(s []string) string { return strings.Join(s, " + ") },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Model}} for {{.S.Target}}</title>
<style>
body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}
td.n{text-align:right}tr.cpu{background:#fde8e8}.bar{background:#4a7fd0;height:10px;display:inline-block}
</style></head><body>
<h1>{{.Model}} for {{.S.Target}}</h1>
<p>Target fingerprint {{.S.Fingerprint}}. {{.S.Layers}} layers in {{.S.Subgraphs}} subgraphs, {{.S.Instructions}} instructions;
{{g .Ops}} operations, {{pct .S.DPUOpsShare}} on the DPU; {{len .S.CPUOps}} layers on the CPU.</p>
<p>One image on one core: {{.S.Cycles}} cycles, {{ms .S.Seconds}} ms, {{printf "%.1f" .S.FPS}} fps, {{printf "%.3f" .S.TOPs}} TOPs/s,
utilisation {{pct .S.Utilization}}. One image on each of the {{.S.Cores}} cores: {{.S.CoresCycles}} cycles,
{{printf "%.1f" .S.CoresFPS}} fps, {{printf "%.3f" .S.CoresTOPs}} TOPs/s. DDR traffic {{.S.DDRBytes}} bytes.</p>
<h2>Fused groups ({{len .S.FusedGroups}})</h2>
<table><tr><th>Template</th><th>Kind</th><th>Layers</th><th>DDR bytes saved</th></tr>
{{range .S.FusedGroups}}<tr><td>{{.Template}}</td><td>{{.Kind}}</td><td>{{join .Layers}}</td><td class="n">{{.GainBytes}}</td></tr>
{{end}}</table>
<h2>Layers</h2>
<table><tr><th>#</th><th>Layer</th><th>Op</th><th>Act</th><th>Device</th><th>Engine</th><th>Why</th><th>Group</th><th>Ops</th><th>Cycles</th><th></th></tr>
{{range .Rows}}<tr{{if eq .Device "cpu"}} class="cpu"{{end}}><td class="n">{{.Index}}</td><td>{{.Name}}</td><td>{{.Op}}</td><td>{{.Act}}</td><td>{{.Device}}</td><td>{{.Engine}}</td><td>{{.Why}}</td><td>{{.Group}}</td><td class="n">{{.Ops}}</td><td class="n">{{.Cycles}}</td><td><span class="bar" style="width:{{w .Share}}px"></span></td></tr>
{{end}}</table>
</body></html>
`))

// WriteHTML writes the report of a compiled program as one HTML page:
// the totals, the fused groups, and every layer with its device, the
// engine that runs it or why it is on the CPU, its group, operations and
// cycles.
func (s *Summary) WriteHTML(w io.Writer, model string) error {
	group := map[string]string{}
	for _, g := range s.FusedGroups {
		for _, l := range g.Layers {
			if group[l] != "" {
				group[l] += ", "
			}
			group[l] += g.Template
		}
	}
	rows := make([]reportRow, len(s.Rows))
	for i, r := range s.Rows {
		rr := reportRow{LayerRow: r, Group: group[r.Name]}
		if r.Device == partition.DPU {
			rr.Engine = engineOf[r.Op]
			rr.Why = "within the target's limits"
		} else {
			rr.Why = r.Reason
		}
		if s.Cycles > 0 {
			rr.Share = float64(r.Cycles) / float64(s.Cycles)
		}
		rows[i] = rr
	}
	return reportTmpl.Execute(w, struct {
		Model string
		S     *Summary
		Ops   float64
		Rows  []reportRow
	}{model, s, float64(s.Ops), rows})
}
