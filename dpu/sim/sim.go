// Package sim executes DPU programs: a bit-exact functional simulator of
// the int8 datapath over a DDR image and each core's on-chip banks, driven
// by a cycle model of the three engines of every core.
//
// Every core has a load, a compute and a save engine; each runs its own
// instructions in program order. An instruction first takes one token from
// each engine its wait field names (tokens queue per ordered pair of
// engines) and, when it finishes, gives one token to each engine its signal
// field names. The simulator always starts next the waiting instruction
// that can start earliest, so start times never decrease; it applies the
// instruction's whole effect at that moment, which makes results
// deterministic even for programs that race. A program whose engines all
// wait on tokens that will never come is reported as a deadlock.
package sim

import (
	"fmt"
	"math"
	"strings"

	"argus/dpu/isa"
	"argus/dpu/target"
)

// Options tune a run.
type Options struct {
	// MaxWork bounds the multiply-accumulates and bytes moved the run may
	// execute; zero means no bound. Fuzzing uses it to keep runs short.
	MaxWork int64
	// Trace records every instruction's timeline in Report.Events.
	Trace bool
	// TimingOnly skips the arithmetic: the run checks every tile and
	// transfer, finds hazards and counts cycles, but leaves the banks and
	// DDR untouched. The report is the same as a full run's.
	TimingOnly bool
}

// EngineStats is the activity of one engine of one core.
type EngineStats struct {
	Core         int     `json:"core"`
	Engine       string  `json:"engine"`
	Instructions int     `json:"instructions"`
	BusyCycles   int64   `json:"busy_cycles"`
	Busy         float64 `json:"busy"` // BusyCycles / Report.Cycles
}

// Event is one executed instruction on the timeline.
type Event struct {
	Core   int
	Engine isa.Engine
	Index  int // position in the program
	Line   int
	Name   string
	Start  int64
	End    int64
	Ops    int64
	Bytes  int64
}

// Report is the outcome of a run.
type Report struct {
	Target           string        `json:"target"`
	Cores            int           `json:"cores"`        // cores the program used
	TargetCores      int           `json:"target_cores"` // cores of the target; the peak counts them all
	Instructions     int           `json:"instructions"`
	Cycles           int64         `json:"cycles"`
	Seconds          float64       `json:"seconds"`
	Ops              int64         `json:"ops"`
	OpsPerSecond     float64       `json:"ops_per_second"`
	PeakOpsPerCycle  int           `json:"peak_ops_per_cycle"`
	Utilization      float64       `json:"utilization"`
	DDRBytes         int64         `json:"ddr_bytes"`
	DDRReadBytes     int64         `json:"ddr_read_bytes"`
	DDRWriteBytes    int64         `json:"ddr_write_bytes"`
	DDRBytesPerCycle float64       `json:"ddr_bytes_per_cycle"`
	DDRPeakPerCycle  float64       `json:"ddr_peak_bytes_per_cycle"`
	DDRBusyCycles    int64         `json:"ddr_busy_cycles"`
	Engines          []EngineStats `json:"engines"`
	UnconsumedTokens int           `json:"unconsumed_tokens"`
	// HazardCount counts instructions that touch bank lines another
	// instruction of the same core is still writing or reading: a missing
	// dependency. Hazards lists the first few.
	HazardCount int      `json:"hazard_count"`
	Hazards     []string `json:"hazards,omitempty"`
	Events      []Event  `json:"-"`
}

// DeadlockError reports engines that wait for tokens no instruction will
// give.
type DeadlockError struct {
	Blocked []string // one line per blocked engine
}

func (e *DeadlockError) Error() string {
	return "deadlock: " + strings.Join(e.Blocked, "; ")
}

// Split cuts a program into its cores' programs, each ending with END.
func Split(prog []isa.Instr) ([][]isa.Instr, error) {
	var out [][]isa.Instr
	start := 0
	for i := range prog {
		if prog[i].Op == isa.END {
			out = append(out, prog[start:i+1])
			start = i + 1
		}
	}
	if start != len(prog) || len(out) == 0 {
		return nil, isa.ErrNoEnd
	}
	return out, nil
}

// DDRExtent returns the number of DDR bytes the program's transfers reach:
// the smallest image that holds every LOAD and SAVE.
func DDRExtent(prog []isa.Instr) int64 {
	var n int64
	for i := range prog {
		if prog[i].Op == isa.LOAD || prog[i].Op == isa.SAVE {
			n = max(n, span(&prog[i]))
		}
	}
	return n
}

type machine struct {
	t       *target.Target
	ddr     []byte
	work    int64
	maxWork int64
	ddrFree int64 // first cycle the DDR data bus is free
	ddrBusy int64

	reads, writes []extent // bank lines the running instruction touches
	timingOnly    bool
}

// flight is an instruction that has started, with the bank lines it
// touches, kept until it ends to find hazards.
type flight struct {
	core, idx     int
	in            *isa.Instr
	start, end    int64
	reads, writes []extent
}

// maxHazards bounds the hazards a report lists; it counts them all.
const maxHazards = 20

var spaceNames = [...]string{"feature-map group 0", "feature-map group 1", "weight banks", "bias bank"}

// hazards checks the instruction starting now against those still running
// on the same core: reading lines another writes (read after write),
// writing lines another reads (write after read) or writes (write after
// write). The functional result of such a program holds in the simulator,
// which applies each effect at once, but not on the hardware.
func hazards(cur *flight, running []*flight) []string {
	var out []string
	for _, a := range running {
		if a.core != cur.core {
			continue
		}
		check := func(mine, theirs []extent, verb, theirVerb string) {
			for _, x := range mine {
				for _, y := range theirs {
					if x.overlaps(y) {
						out = append(out, fmt.Sprintf("core %d: %s %s %s %s lines [%d, %d) that %s %s is still %s (cycles %d-%d)",
							cur.core, cur.in.Where(), cur.in.Name(), verb, spaceNames[x.space], max(x.lo, y.lo), min(x.hi, y.hi),
							a.in.Where(), a.in.Name(), theirVerb, a.start, a.end))
						return
					}
				}
			}
		}
		check(cur.reads, a.writes, "reads", "writing")
		check(cur.writes, a.reads, "writes", "reading")
		check(cur.writes, a.writes, "writes", "writing")
	}
	return out
}

// engineState is one engine of one core during a run.
type engineState struct {
	queue []int // program indices, in order
	next  int
	free  int64 // cycle the engine finishes its current instruction
	busy  int64
	count int
}

type coreRun struct {
	prog    []isa.Instr
	core    *core
	engines [isa.NumEngines]engineState
	tokens  [isa.NumEngines][isa.NumEngines][]int64 // [from][to] token times, FIFO
}

// Run executes prog on t over ddr, which it modifies in place, and returns
// the cycle report. Instructions after each END run on the next core.
func Run(prog []isa.Instr, t *target.Target, ddr []byte, opts Options) (*Report, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	parts, err := Split(prog)
	if err != nil {
		return nil, err
	}
	if len(parts) > t.Cores {
		return nil, fmt.Errorf("program has %d core programs; target %s has %d cores", len(parts), t.Name, t.Cores)
	}
	m := &machine{t: t, ddr: ddr, maxWork: opts.MaxWork, timingOnly: opts.TimingOnly}
	runs := make([]*coreRun, len(parts))
	for ci, p := range parts {
		r := &coreRun{prog: p, core: newCore(t)}
		for i := range p {
			if err := p[i].Validate(); err != nil {
				return nil, fmt.Errorf("core %d: %s: %s: %w", ci, p[i].Where(), p[i].Name(), err)
			}
			if e := p[i].Engine(); e != isa.NoEngine {
				r.engines[e].queue = append(r.engines[e].queue, i)
			}
		}
		runs[ci] = r
	}
	var running []*flight
	rep := &Report{Target: t.Name, Cores: len(parts), TargetCores: t.Cores, PeakOpsPerCycle: t.TotalPeakOpsPerCycle(), DDRPeakPerCycle: t.DDRBytesPerCycle()}
	for {
		bc, be, bstart := -1, isa.Engine(0), int64(math.MaxInt64)
		bidx := 0
		pending := false
		for ci, r := range runs {
			for e := range isa.Engine(isa.NumEngines) {
				es := &r.engines[e]
				if es.next >= len(es.queue) {
					continue
				}
				pending = true
				idx := es.queue[es.next]
				in := &r.prog[idx]
				start, ok := es.free, true
				for x := range isa.Engine(isa.NumEngines) {
					if in.Wait.Has(x) {
						q := r.tokens[x][e]
						if len(q) == 0 {
							ok = false
							break
						}
						start = max(start, q[0])
					}
				}
				if ok && (start < bstart || start == bstart && bc == ci && idx < bidx) {
					bc, be, bstart, bidx = ci, e, start, idx
				}
			}
		}
		if !pending {
			break
		}
		if bc < 0 {
			return nil, deadlock(runs)
		}
		r := runs[bc]
		es := &r.engines[be]
		in := &r.prog[bidx]
		for x := range isa.Engine(isa.NumEngines) {
			if in.Wait.Has(x) {
				r.tokens[x][be] = r.tokens[x][be][1:]
			}
		}
		m.reads, m.writes = nil, nil
		if err := m.exec(r.core, in); err != nil {
			return nil, fmt.Errorf("core %d: %s: %s: %w", bc, in.Where(), in.Name(), err)
		}
		cost := m.cost(r.core, in, bstart)
		end := bstart + cost.cycles
		live := running[:0]
		for _, f := range running {
			if f.end > bstart {
				live = append(live, f)
			}
		}
		running = live
		cur := &flight{core: bc, idx: bidx, in: in, start: bstart, end: end, reads: m.reads, writes: m.writes}
		if hz := hazards(cur, running); len(hz) > 0 {
			rep.HazardCount++
			if len(rep.Hazards) < maxHazards {
				rep.Hazards = append(rep.Hazards, hz[0])
			}
		}
		if end > bstart && len(cur.reads)+len(cur.writes) > 0 {
			running = append(running, cur)
		}
		es.free, es.busy, es.count, es.next = end, es.busy+cost.cycles, es.count+1, es.next+1
		for y := range isa.Engine(isa.NumEngines) {
			if in.Signal.Has(y) {
				r.tokens[be][y] = append(r.tokens[be][y], end)
			}
		}
		rep.Instructions++
		rep.Ops += cost.ops
		rep.Cycles = max(rep.Cycles, end)
		if in.Op == isa.LOAD {
			rep.DDRReadBytes += cost.bytes
		} else if in.Op == isa.SAVE {
			rep.DDRWriteBytes += cost.bytes
		}
		if opts.Trace {
			rep.Events = append(rep.Events, Event{Core: bc, Engine: be, Index: bidx, Line: in.Line, Name: in.Name(),
				Start: bstart, End: end, Ops: cost.ops, Bytes: cost.bytes})
		}
	}
	rep.Instructions += len(parts) // the ENDs
	rep.DDRBytes = rep.DDRReadBytes + rep.DDRWriteBytes
	rep.DDRBusyCycles = m.ddrBusy
	rep.Seconds = float64(rep.Cycles) / (t.ClockMHz * 1e6)
	if rep.Cycles > 0 {
		rep.OpsPerSecond = float64(rep.Ops) / rep.Seconds
		rep.Utilization = float64(rep.Ops) / (float64(rep.Cycles) * float64(rep.PeakOpsPerCycle))
		rep.DDRBytesPerCycle = float64(rep.DDRBytes) / float64(rep.Cycles)
	}
	for ci, r := range runs {
		for e := range isa.Engine(isa.NumEngines) {
			es := &r.engines[e]
			s := EngineStats{Core: ci, Engine: e.String(), Instructions: es.count, BusyCycles: es.busy}
			if rep.Cycles > 0 {
				s.Busy = float64(es.busy) / float64(rep.Cycles)
			}
			rep.Engines = append(rep.Engines, s)
			for x := range isa.Engine(isa.NumEngines) {
				rep.UnconsumedTokens += len(r.tokens[e][x])
			}
		}
	}
	return rep, nil
}

func deadlock(runs []*coreRun) error {
	var blocked []string
	for ci, r := range runs {
		for e := range isa.Engine(isa.NumEngines) {
			es := &r.engines[e]
			if es.next >= len(es.queue) {
				continue
			}
			in := &r.prog[es.queue[es.next]]
			var missing []string
			for x := range isa.Engine(isa.NumEngines) {
				if in.Wait.Has(x) && len(r.tokens[x][e]) == 0 {
					missing = append(missing, x.String())
				}
			}
			blocked = append(blocked, fmt.Sprintf("core %d %s engine at %s %s waits for %s", ci, e, in.Where(), in.Name(), strings.Join(missing, ", ")))
		}
	}
	return &DeadlockError{Blocked: blocked}
}
