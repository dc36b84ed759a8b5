// Command reid-bench times the re-ID toolkit at the sizes of Market-1501 on
// synthetic data and writes that data for the numpy reference script
// (eval_reference.py) to time on the same input:
//
//	go run ./tools/bench/reid -dir /tmp/reidbench [-jaccard]
//	python3 tools/bench/reid/eval_reference.py /tmp/reidbench [--jaccard]
//
// Evaluation: 3,368 queries × 15,913 gallery (751 identities, 2,793
// distractors with pid 0, 6 cameras). Jaccard: 12,936 L2-normalised features
// of dimension 2048 around 751 identity centres, k1 = 30, k2 = 6.
package main

import (
	"argus/internal/cputime"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"argus/internal/atomicfile"
	"argus/internal/kernels"
	"argus/reid"
	"argus/reid/rerank"
)

func main() {
	dir := flag.String("dir", "", "write the synthetic inputs here for the reference script")
	jac := flag.Bool("jaccard", false, "also time the Jaccard distance of 12,936×2048 features")
	repeats := flag.Int("repeats", 5, "evaluation repeats (the best is reported)")
	flag.Parse()
	if err := run(*dir, *jac, *repeats); err != nil {
		fmt.Fprintln(os.Stderr, "reid-bench:", err)
		os.Exit(1)
	}
}

type report struct {
	GOMAXPROCS      int       `json:"gomaxprocs"`
	NumQuery        int       `json:"num_query"`
	NumGallery      int       `json:"num_gallery"`
	EvalSeconds     []float64 `json:"eval_seconds"`
	EvalCPUSeconds  []float64 `json:"eval_cpu_seconds"`
	MAP             float64   `json:"mAP"`
	MINP            float64   `json:"mINP"`
	Rank1           float32   `json:"rank1"`
	JaccardN        int       `json:"jaccard_n,omitempty"`
	JaccardSeconds  float64   `json:"jaccard_seconds,omitempty"`
	JaccardCPU      float64   `json:"jaccard_cpu_seconds,omitempty"`
	GEMMSeconds     float64   `json:"gemm_seconds,omitempty"`
	JaccardNonzeros int       `json:"jaccard_entries,omitempty"`
}

func run(dir string, doJaccard bool, repeats int) error {
	rep := report{GOMAXPROCS: runtime.GOMAXPROCS(0)}
	dist, qp, gp, qc, gc := marketLike(1)
	rep.NumQuery, rep.NumGallery = len(qp), len(gp)
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for name, v := range map[string]any{"dist.f32": dist, "qpids.i32": toI32(qp), "gpids.i32": toI32(gp), "qcams.i32": toI32(qc), "gcams.i32": toI32(gc)} {
			if err := writeBin(filepath.Join(dir, name), v); err != nil {
				return err
			}
		}
	}
	for range repeats {
		start, cpu := time.Now(), cputime.Seconds()
		res, err := reid.Evaluate(dist, qp, gp, qc, gc, reid.DefaultMaxRank)
		if err != nil {
			return err
		}
		rep.EvalSeconds = append(rep.EvalSeconds, time.Since(start).Seconds())
		rep.EvalCPUSeconds = append(rep.EvalCPUSeconds, cputime.Seconds()-cpu)
		rep.MAP, rep.MINP, rep.Rank1 = res.MAP, res.MINP, res.CMC[0]
	}
	fmt.Fprintf(os.Stderr, "eval %d×%d: %v s wall, %v s CPU\n", rep.NumQuery, rep.NumGallery, rep.EvalSeconds, rep.EvalCPUSeconds)
	if doJaccard {
		n, d := 12936, 2048
		x := features(2, n, d, 751)
		if dir != "" {
			if err := writeBin(filepath.Join(dir, "features.f32"), x); err != nil {
				return err
			}
		}
		start := time.Now()
		buf := make([]float32, 256*n)
		for b0 := 0; b0 < n; b0 += 256 {
			bs := min(256, n-b0)
			kernels.Sgemm(false, true, bs, n, d, -2, x[b0*d:(b0+bs)*d], d, x, d, 0, buf[:bs*n], n)
		}
		rep.GEMMSeconds = time.Since(start).Seconds()
		fmt.Fprintf(os.Stderr, "gemm %d×%d×%d: %.1fs\n", n, n, d, rep.GEMMSeconds)
		start, cpu := time.Now(), cputime.Seconds()
		s, err := rerank.Jaccard(x, n, d, rerank.DefaultOptions())
		if err != nil {
			return err
		}
		rep.JaccardSeconds = time.Since(start).Seconds()
		rep.JaccardCPU = cputime.Seconds() - cpu
		rep.JaccardN = n
		for _, r := range s.Row {
			rep.JaccardNonzeros += len(r)
		}
		fmt.Fprintf(os.Stderr, "jaccard %d×%d: %.1fs\n", n, d, rep.JaccardSeconds)
		if dir != "" {
			// A few rows for the reference script to check.
			rows := map[string][]rerank.Entry{}
			for _, i := range []int{0, 1, 4321, n - 1} {
				rows[fmt.Sprint(i)] = s.Row[i]
			}
			b, _ := json.Marshal(rows)
			if err := atomicfile.WriteFile(filepath.Join(dir, "jaccard_rows.json"), b); err != nil {
				return err
			}
		}
	}
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}

// marketLike returns a synthetic distance matrix and identities of
// Market-1501's test size: matches are closer on average than non-matches.
func marketLike(seed uint64) (dist []float32, qp, gp, qc, gc []int) {
	const nq, ng, ids, distractors = 3368, 15913, 750, 2793
	rng := rand.New(rand.NewPCG(seed, 0))
	qp, qc = make([]int, nq), make([]int, nq)
	for i := range qp {
		qp[i], qc[i] = 1+rng.IntN(ids), rng.IntN(6)
	}
	gp, gc = make([]int, ng), make([]int, ng)
	for i := range gp {
		gp[i], gc[i] = 1+rng.IntN(ids+1), rng.IntN(6)
		if i < distractors {
			gp[i] = 0
		}
	}
	rng.Shuffle(ng, func(i, j int) { gp[i], gp[j] = gp[j], gp[i]; gc[i], gc[j] = gc[j], gc[i] })
	dist = make([]float32, nq*ng)
	for q := range nq {
		r := rand.New(rand.NewPCG(seed, uint64(q)+1))
		row := dist[q*ng : (q+1)*ng]
		for j := range row {
			v := r.Float32() + 0.3
			if gp[j] == qp[q] {
				v = r.Float32()
			}
			row[j] = v
		}
	}
	return dist, qp, gp, qc, gc
}

// features returns n unit-norm features of dimension d around ids centres.
func features(seed uint64, n, d, ids int) []float32 {
	rng := rand.New(rand.NewPCG(seed, 0))
	centres := make([]float32, ids*d)
	for i := range centres {
		centres[i] = float32(rng.NormFloat64())
	}
	x := make([]float32, n*d)
	for i := range n {
		c := rng.IntN(ids)
		row := x[i*d : (i+1)*d]
		var s float64
		for k := range row {
			row[k] = centres[c*d+k] + 0.8*float32(rng.NormFloat64())
			s += float64(row[k]) * float64(row[k])
		}
		inv := float32(1 / math.Sqrt(s))
		for k := range row {
			row[k] *= inv
		}
	}
	return x
}

func toI32(v []int) []int32 {
	out := make([]int32, len(v))
	for i, x := range v {
		out[i] = int32(x)
	}
	return out
}

func writeBin(path string, v any) error {
	return atomicfile.Write(path, func(w io.Writer) error { return binary.Write(w, binary.LittleEndian, v) })
}
