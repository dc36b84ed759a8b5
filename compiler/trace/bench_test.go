package trace_test

import (
	"strconv"
	"syscall"
	"testing"
	"time"

	"argus/compiler/trace"
	"argus/compiler/xgraph"
	"argus/models"
	"argus/nn"
	"argus/tensor"
)

// BenchmarkResNet18Inference times the exported ResNet-18 at batch 1 and
// 224×224 on the executor's compiled path (trace, ONNX bytes, read back,
// standard passes), as `argus run` executes it. Until commit 519b3ae it
// ran beside models.ResNet.Inference, the hand-written translation that it
// replaced at the same speed (docs/perf/onnx.md).
func BenchmarkResNet18Inference(b *testing.B) {
	m, _ := models.NewResNet(tensor.NewRNG(1), 18, 1000)
	nn.Train(m, false)
	x := tensor.NewRNG(2).Uniform(0, 1, 1, 3, 224, 224)
	g, _ := exported(b, m, x, trace.Options{DynamicBatch: true})
	_, e := run(b, g, x, true)
	if err := e.Compiled(); err != nil {
		b.Fatal(err)
	}
	in := map[string]*xgraph.Tensor{g.Inputs[0].Name: xgraph.FromDense(x)}
	timeLoop(b, func() error { _, err := e.Run(in); return err })
}

// BenchmarkMNISTInference is BenchmarkResNet18Inference for the MNIST CNN
// at batch 1 and 64. The executor runs its export node by node: the
// compiled path takes no ReLU after max pooling or a fully connected
// layer, nor a Flatten of a feature map.
func BenchmarkMNISTInference(b *testing.B) {
	m := models.NewMNISTNet(tensor.NewRNG(1))
	nn.Train(m, false)
	for _, n := range []int{1, 64} {
		x := tensor.NewRNG(2).Uniform(0, 1, n, 1, 28, 28)
		b.Run("models.Inference/batch="+strconv.Itoa(n), func(b *testing.B) {
			net, err := m.Inference()
			if err != nil {
				b.Fatal(err)
			}
			timeLoop(b, func() error { _, err := net.Run(x); return err })
		})
		b.Run("export+executor/batch="+strconv.Itoa(n), func(b *testing.B) {
			g, _ := exported(b, m, x, trace.Options{DynamicBatch: true})
			_, e := run(b, g, x, true)
			in := map[string]*xgraph.Tensor{g.Inputs[0].Name: xgraph.FromDense(x)}
			timeLoop(b, func() error { _, err := e.Run(in); return err })
		})
	}
}

// timeLoop runs fn in the benchmark loop and reports wall and CPU
// milliseconds per call (one batch); on a shared machine the CPU time is
// the steadier.
func timeLoop(b *testing.B, fn func() error) {
	cpu0 := cpuTime()
	for b.Loop() {
		if err := fn(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/batch")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/batch")
}

// cpuTime returns the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
