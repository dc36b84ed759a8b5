// Package schedule is the compiler's execution-strategy search: for each
// DPU layer it lists the ways to tile and schedule it and picks the one the
// cycle model (dpu/sim) times fastest, as DNNVM searches the strategies of
// its graph with the cycle model as the cost.
//
// A strategy is the output rows per tile and whether tiles are pipelined.
// A serial layer fills a whole feature-map bank group with each tile, and
// its load, compute and save engines take turns: each instruction waits for
// the one before. A pipelined (double-buffered) layer splits each of the
// two bank groups into halves and alternates tiles between them, so the
// load engine reads tile k+1 while the compute engine works on tile k and
// the save engine writes tile k-1 back (DNNVM's pipelining of the engines);
// its tiles are at most half as tall, which costs the DDR latency and the
// compute set-up more often. Layers run one after another (the last save
// of a layer comes before the first load of the next), so the best program
// is the best strategy of every layer on its own: the shortest path through
// the layer chain decomposes into one choice per layer.
package schedule

import (
	"fmt"

	"argus/dpu/isa"
	"argus/dpu/sim"
	"argus/dpu/target"
)

// Strategy is how one layer is tiled and scheduled.
type Strategy struct {
	// Rows is the output rows per tile.
	Rows int `json:"rows"`
	// Double splits the bank groups into halves and overlaps the load,
	// compute and save engines across consecutive tiles.
	Double bool `json:"double"`
}

func (s Strategy) String() string {
	if s.Double {
		return fmt.Sprintf("pipelined, %d rows", s.Rows)
	}
	return fmt.Sprintf("serial, %d rows", s.Rows)
}

// Candidates lists the strategies of a layer of oh output rows whose
// tiles hold at most full rows in a whole bank group and at most half rows
// in half of one (zero where not even one row fits): the serial strategy
// of full rows first (the code generator's choice without a search), then
// the pipelined ones, one per distinct number of tiles, the most rows for
// each.
func Candidates(oh, full, half int) []Strategy {
	var out []Strategy
	if full >= 1 {
		out = append(out, Strategy{Rows: min(full, oh)})
	}
	if half < 1 {
		return out
	}
	prev := -1
	for th := min(half, oh); th >= 1; th-- {
		n := (oh + th - 1) / th
		if n == prev {
			continue
		}
		// The most rows giving n tiles.
		best := (oh + n - 1) / n
		if best > half {
			continue
		}
		prev = n
		out = append(out, Strategy{Rows: best, Double: true})
	}
	return out
}

// Choice is the strategy chosen for one layer with its cycles and those of
// the serial strategy (the baseline the search improves on).
type Choice struct {
	Strategy Strategy `json:"strategy"`
	Cycles   int64    `json:"cycles"`
	Serial   int64    `json:"serial_cycles"`
	// Tried is the number of strategies timed.
	Tried int `json:"tried"`
}

// Search times every candidate with cost and returns the fastest (the
// first of equal ones, so the serial strategy wins a tie). The serial
// strategy, when listed, must come first.
func Search(cands []Strategy, cost func(Strategy) (int64, error)) (Choice, error) {
	if len(cands) == 0 {
		return Choice{}, fmt.Errorf("no strategy fits the banks")
	}
	var best Choice
	for i, s := range cands {
		c, err := cost(s)
		if err != nil {
			return Choice{}, fmt.Errorf("strategy %s: %w", s, err)
		}
		if i == 0 || c < best.Cycles {
			best.Strategy, best.Cycles = s, c
		}
		if i == 0 && !s.Double {
			best.Serial = c
		}
	}
	if best.Serial == 0 {
		best.Serial = best.Cycles
	}
	best.Tried = len(cands)
	return best, nil
}

// Cost returns the cycles the cycle model gives code, one layer's
// instructions on one core (ending with END), over ddr (which it leaves
// untouched). A strategy whose engines race on the banks is an error: the
// search never picks code the hardware would run wrong.
func Cost(t *target.Target, code []isa.Instr, ddr []byte) (int64, error) {
	rep, err := sim.Run(code, t, ddr, sim.Options{TimingOnly: true})
	if err != nil {
		return 0, err
	}
	if rep.HazardCount > 0 {
		return 0, fmt.Errorf("%d hazards: %s", rep.HazardCount, rep.Hazards[0])
	}
	if rep.UnconsumedTokens > 0 {
		return 0, fmt.Errorf("%d dependency tokens never taken", rep.UnconsumedTokens)
	}
	return rep.Cycles, nil
}

// Plan is the choices of a program's layers: Layers[i] for layer i, nil
// for a layer the search did not schedule (on the CPU, in a fused group,
// or without tiles).
type Plan struct {
	Layers []*Choice `json:"layers"`
}

// Totals returns the cycles of the scheduled layers with the chosen
// strategies and with the serial ones, and how many layers are pipelined.
func (p *Plan) Totals() (cycles, serial int64, pipelined int) {
	for _, c := range p.Layers {
		if c == nil {
			continue
		}
		cycles += c.Cycles
		serial += c.Serial
		if c.Strategy.Double {
			pipelined++
		}
	}
	return cycles, serial, pipelined
}
