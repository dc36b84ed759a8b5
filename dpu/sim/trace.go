package sim

import (
	"encoding/json"
	"fmt"
	"io"
)

type traceEvent struct {
	Name string         `json:"name"`
	Cat  string         `json:"cat,omitempty"`
	Ph   string         `json:"ph"`
	Ts   float64        `json:"ts"`
	Dur  float64        `json:"dur"`
	Pid  int            `json:"pid"`
	Tid  int            `json:"tid"`
	Args map[string]any `json:"args,omitempty"`
}

// WriteTrace writes the report's events in the Chrome trace-event format
// (viewable in Perfetto or chrome://tracing): one process per core, one
// thread per engine, times in microseconds at clockMHz.
func WriteTrace(w io.Writer, rep *Report, clockMHz float64) error {
	var evs []traceEvent
	for c := range rep.Cores {
		evs = append(evs, traceEvent{Name: "process_name", Ph: "M", Pid: c, Args: map[string]any{"name": fmt.Sprintf("core %d", c)}})
		for _, e := range []string{"load", "compute", "save"} {
			evs = append(evs, traceEvent{Name: "thread_name", Ph: "M", Pid: c, Tid: engineTid(e), Args: map[string]any{"name": e}})
		}
	}
	for _, e := range rep.Events {
		args := map[string]any{"index": e.Index, "start_cycle": e.Start, "cycles": e.End - e.Start}
		if e.Line > 0 {
			args["line"] = e.Line
		}
		if e.Ops > 0 {
			args["ops"] = e.Ops
		}
		if e.Bytes > 0 {
			args["ddr_bytes"] = e.Bytes
		}
		evs = append(evs, traceEvent{Name: e.Name, Cat: e.Engine.String(), Ph: "X",
			Ts: float64(e.Start) / clockMHz, Dur: float64(e.End-e.Start) / clockMHz,
			Pid: e.Core, Tid: int(e.Engine), Args: args})
	}
	enc := json.NewEncoder(w)
	return enc.Encode(map[string]any{"traceEvents": evs, "displayTimeUnit": "ns"})
}

func engineTid(name string) int {
	switch name {
	case "load":
		return 0
	case "compute":
		return 1
	}
	return 2
}
