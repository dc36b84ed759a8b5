package quant_test

import (
	"os"
	"strconv"
	"testing"

	"argus/compiler/executor"
	"argus/compiler/onnx"
	"argus/compiler/quant"
	"argus/compiler/xgraph"
	"argus/data/mnist"
)

// mnistSource is a calibration source over the first n images of a set.
type mnistSource struct {
	set *mnist.Set
	n   int
}

func (s mnistSource) Len() int { return s.n }

func (s mnistSource) Sample(i int) (*xgraph.Tensor, error) {
	x, _ := s.set.Batch([]int{i})
	return xgraph.NewFloat(x.Data(), 1, 28, 28), nil
}

// The int8 model's accuracy may fall this far below the float model's.
const maxMNISTDrop = 0.01

// TestMNIST quantises a CNN trained on MNIST (tools/quant/mnist_cnn.py:
// batch norms, a residual block, a depthwise ReLU6 layer, 7×7 global
// average pooling) with 100 training images and compares the accuracy of
// the quant-ref engine with the float executor's on the first 500 test
// images (ARGUS_MNIST_TEST=N for another number, 0 for all 10,000).
func TestMNIST(t *testing.T) {
	dir, err := mnist.DefaultDir()
	if err != nil {
		t.Skipf("MNIST: %v", err)
	}
	train, test, err := mnist.Load(dir)
	if err != nil {
		t.Skipf("MNIST: %v", err)
	}
	n := 500
	if s := os.Getenv("ARGUS_MNIST_TEST"); s != "" {
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatalf("ARGUS_MNIST_TEST=%q: %v", s, err)
		}
	}
	if n <= 0 || n > test.Len() {
		n = test.Len()
	}
	g, err := onnx.Load("testdata/mnist_cnn.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if g.Summarize().Ops["BatchNormalization"] != 5 {
		t.Fatalf("the model has %d batch norms, want 5", g.Summarize().Ops["BatchNormalization"])
	}
	m, rep, err := quant.Quantize(g, mnistSource{train, 100}, quant.Options{})
	if err != nil {
		t.Fatal(err)
	}
	exec, err := executor.New(g)
	if err != nil {
		t.Fatal(err)
	}
	var fok, qok, agree int
	for lo := 0; lo < n; lo += 100 {
		idx := make([]int, 0, 100)
		for i := lo; i < min(lo+100, n); i++ {
			idx = append(idx, i)
		}
		xb, labels := test.Batch(idx)
		x := xgraph.FromDense(xb)
		fo, err := exec.Run(map[string]*xgraph.Tensor{g.Inputs[0].Name: x})
		if err != nil {
			t.Fatal(err)
		}
		qo, err := m.Run(x)
		if err != nil {
			t.Fatal(err)
		}
		q := qo[0].Float()
		for i, y := range labels {
			fp, qp := argmax(fo[0].F[i*10:(i+1)*10]), argmax(q[i*10:(i+1)*10])
			if fp == y {
				fok++
			}
			if qp == y {
				qok++
			}
			if fp == qp {
				agree++
			}
		}
	}
	fa, qa, ag := float64(fok)/float64(n), float64(qok)/float64(n), float64(agree)/float64(n)
	t.Logf("%d layers, %d legalisation moves; %d test images: float accuracy %.4f, int8 accuracy %.4f, top-1 agreement %.4f",
		len(m.Layers), len(rep.Changes), n, fa, qa, ag)
	if qa < fa-maxMNISTDrop || fa < 0.95 {
		t.Errorf("int8 accuracy %.4f, float %.4f: want a drop of at most %g", qa, fa, maxMNISTDrop)
	}
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
