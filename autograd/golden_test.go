package autograd

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"argus/internal/golden"
	"argus/tensor"
)

// The golden files are written by tools/golden/engine/gen.py with PyTorch.
// Each case holds inputs, the op's output, a weighting w of the output and
// the gradients of sum(w ⊙ output) with respect to the inputs.

type goldenTensor struct {
	Shape []int     `json:"shape"`
	Data  []float32 `json:"data"`
}

func (g *goldenTensor) tensor() *tensor.Tensor {
	return tensor.Wrap(append([]float32(nil), g.Data...), g.Shape...)
}

type goldenCase struct {
	Name   string                  `json:"name"`
	Op     string                  `json:"op"`
	Params map[string]any          `json:"params"`
	Consts map[string]goldenTensor `json:"consts"`
	Inputs []goldenTensor          `json:"inputs"`
	Output goldenTensor            `json:"output"`
	Weight goldenTensor            `json:"weight"`
	Grads  []*goldenTensor         `json:"grads"`
	Extra  map[string]goldenTensor `json:"extra"`

	// extra values computed on the Go side, compared with Extra.
	got map[string][]float32
}

func (c *goldenCase) float(k string) float32 { return float32(c.Params[k].(float64)) }
func (c *goldenCase) int(k string) int       { return int(c.Params[k].(float64)) }
func (c *goldenCase) bool(k string) bool     { return c.Params[k].(bool) }

func (c *goldenCase) ints(k string) []int {
	raw := c.Params[k].([]any)
	out := make([]int, len(raw))
	for i, v := range raw {
		out[i] = int(v.(float64))
	}
	return out
}

func (c *goldenCase) pair(k string) [2]int {
	v := c.ints(k)
	return [2]int{v[0], v[1]}
}

func (c *goldenCase) bools(k string) []bool {
	raw := c.Params[k].([]any)
	out := make([]bool, len(raw))
	for i, v := range raw {
		out[i] = v.(bool)
	}
	return out
}

func (c *goldenCase) konst(k string) *tensor.Tensor {
	g, ok := c.Consts[k]
	if !ok {
		return nil
	}
	return g.tensor()
}

func (c *goldenCase) reduction() Reduction {
	switch c.Params["reduction"] {
	case "sum":
		return ReduceSum
	case "none":
		return ReduceNone
	}
	return ReduceMean
}

func intsToFloats(v []int) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// optional returns x[i], or nil when there are not that many inputs.
func optional(x []*Var, i int) *Var {
	if i < len(x) {
		return x[i]
	}
	return nil
}

// goldenOps maps the op names of the golden files to the engine's ops.
var goldenOps = map[string]func(c *goldenCase, x []*Var) *Var{
	"add":        func(c *goldenCase, x []*Var) *Var { return Add(x[0], x[1]) },
	"sub":        func(c *goldenCase, x []*Var) *Var { return Sub(x[0], x[1]) },
	"mul":        func(c *goldenCase, x []*Var) *Var { return Mul(x[0], x[1]) },
	"div":        func(c *goldenCase, x []*Var) *Var { return Div(x[0], x[1]) },
	"neg":        func(c *goldenCase, x []*Var) *Var { return Neg(x[0]) },
	"scale":      func(c *goldenCase, x []*Var) *Var { return Scale(x[0], c.float("s")) },
	"add_scalar": func(c *goldenCase, x []*Var) *Var { return AddScalar(x[0], c.float("s")) },
	"exp":        func(c *goldenCase, x []*Var) *Var { return Exp(x[0]) },
	"log":        func(c *goldenCase, x []*Var) *Var { return Log(x[0]) },
	"sqrt":       func(c *goldenCase, x []*Var) *Var { return Sqrt(x[0]) },
	"pow":        func(c *goldenCase, x []*Var) *Var { return Pow(x[0], c.float("p")) },
	"abs":        func(c *goldenCase, x []*Var) *Var { return Abs(x[0]) },
	"clamp":      func(c *goldenCase, x []*Var) *Var { return Clamp(x[0], c.float("lo"), c.float("hi")) },
	"relu":       func(c *goldenCase, x []*Var) *Var { return ReLU(x[0]) },
	"leaky_relu": func(c *goldenCase, x []*Var) *Var { return LeakyReLU(x[0], c.float("slope")) },
	"gelu":       func(c *goldenCase, x []*Var) *Var { return GELU(x[0]) },
	"sigmoid":    func(c *goldenCase, x []*Var) *Var { return Sigmoid(x[0]) },
	"tanh":       func(c *goldenCase, x []*Var) *Var { return Tanh(x[0]) },
	"softplus":   func(c *goldenCase, x []*Var) *Var { return Softplus(x[0]) },

	"linear":       func(c *goldenCase, x []*Var) *Var { return Linear(x[0], x[1], optional(x, 2)) },
	"matmul":       func(c *goldenCase, x []*Var) *Var { return MatMul(x[0], x[1]) },
	"batch_matmul": func(c *goldenCase, x []*Var) *Var { return BatchMatMul(x[0], x[1]) },
	"conv2d": func(c *goldenCase, x []*Var) *Var {
		stride, padding, dilation := c.pair("stride"), c.pair("padding"), c.pair("dilation")
		return Conv2d(x[0], x[1], optional(x, 2), Conv2dOptions{
			Stride: stride[:], Padding: padding[:], Dilation: dilation[:], Groups: c.int("groups")})
	},
	"conv_transpose2d": func(c *goldenCase, x []*Var) *Var {
		return ConvTranspose2d(x[0], x[1], optional(x, 2), ConvTranspose2dOptions{
			Stride: c.pair("stride"), Padding: c.pair("padding"), OutputPadding: c.pair("output_padding"),
			Dilation: c.pair("dilation"), Groups: c.int("groups")})
	},
	"max_pool2d": func(c *goldenCase, x []*Var) *Var {
		return MaxPool2d(x[0], MaxPool2dOptions{Kernel: c.pair("kernel"), Stride: c.pair("stride"), Padding: c.pair("padding"),
			Dilation: c.pair("dilation"), CeilMode: c.bool("ceil")})
	},
	"avg_pool2d": func(c *goldenCase, x []*Var) *Var {
		return AvgPool2d(x[0], AvgPool2dOptions{Kernel: c.pair("kernel"), Stride: c.pair("stride"), Padding: c.pair("padding"),
			CeilMode: c.bool("ceil"), ExcludePad: c.bool("exclude_pad")})
	},
	"gem": func(c *goldenCase, x []*Var) *Var { return GeM(x[0], x[1], c.float("eps")) },
	"adaptive_avg_pool2d": func(c *goldenCase, x []*Var) *Var {
		o := c.ints("out")
		return AdaptiveAvgPool2d(x[0], o[0], o[1])
	},
	"batch_norm": func(c *goldenCase, x []*Var) *Var {
		rm, rv := c.konst("running_mean"), c.konst("running_var")
		y := BatchNorm2d(x[0], x[1], x[2], rm, rv, BatchNormOptions{Training: c.bool("training"), Momentum: c.float("momentum")})
		c.got = map[string][]float32{"running_mean": rm.Data(), "running_var": rv.Data()}
		return y
	},
	"layer_norm": func(c *goldenCase, x []*Var) *Var {
		var eps float32
		if _, ok := c.Params["eps"]; ok {
			eps = c.float("eps")
		}
		return LayerNorm(x[0], c.ints("shape"), x[1], x[2], eps)
	},
	"group_norm":  func(c *goldenCase, x []*Var) *Var { return GroupNorm(x[0], c.int("groups"), x[1], x[2], 0) },
	"softmax":     func(c *goldenCase, x []*Var) *Var { return Softmax(x[0], c.int("axis")) },
	"log_softmax": func(c *goldenCase, x []*Var) *Var { return LogSoftmax(x[0], c.int("axis")) },
	"masked_softmax": func(c *goldenCase, x []*Var) *Var {
		return Softmax(MaskedFill(x[0], c.bools("mask"), float32(math.Inf(-1))), -1)
	},
	"cross_entropy": func(c *goldenCase, x []*Var) *Var {
		opt := CrossEntropyOptions{Weight: c.konst("weight")}
		if _, ok := c.Params["smoothing"]; ok {
			opt.LabelSmoothing = c.float("smoothing")
		}
		if _, ok := c.Params["ignore"]; ok {
			opt.IgnoreIndex = c.int("ignore")
		}
		return CrossEntropy(x[0], c.ints("targets"), opt)
	},
	"seg_cross_entropy": func(c *goldenCase, x []*Var) *Var {
		return SegCrossEntropy(x[0], c.ints("labels"), SegCrossEntropyOptions{
			Weight: c.konst("weight"), IgnoreIndex: c.int("ignore"), AvgNonIgnore: c.bool("avg_non_ignore")})
	},
	"bce_with_logits": func(c *goldenCase, x []*Var) *Var {
		return BCEWithLogits(x[0], c.konst("target"), BCEOptions{Weight: c.konst("weight"), PosWeight: c.konst("pos_weight"), Reduction: c.reduction()})
	},
	"sigmoid_focal_loss": func(c *goldenCase, x []*Var) *Var {
		return SigmoidFocalLoss(x[0], c.konst("target"), c.float("alpha"), c.float("gamma"), c.reduction())
	},
	"l1_loss":        func(c *goldenCase, x []*Var) *Var { return L1Loss(x[0], x[1], c.reduction()) },
	"mse_loss":       func(c *goldenCase, x []*Var) *Var { return MSELoss(x[0], x[1], c.reduction()) },
	"smooth_l1_loss": func(c *goldenCase, x []*Var) *Var { return SmoothL1Loss(x[0], x[1], c.float("beta"), c.reduction()) },

	"reshape":   func(c *goldenCase, x []*Var) *Var { return Tanh(Reshape(x[0], c.ints("shape")...)) },
	"flatten":   func(c *goldenCase, x []*Var) *Var { return Flatten(x[0], c.int("start"), c.int("end")) },
	"permute":   func(c *goldenCase, x []*Var) *Var { return Permute(x[0], c.ints("perm")...) },
	"transpose": func(c *goldenCase, x []*Var) *Var { return Transpose(x[0], c.int("a"), c.int("b")) },
	"slice":     func(c *goldenCase, x []*Var) *Var { return Slice(x[0], c.int("axis"), c.int("start"), c.int("end")) },
	"split": func(c *goldenCase, x []*Var) *Var {
		parts := Split(x[0], c.int("axis"), c.ints("sizes")...)
		for i := range parts {
			parts[i] = Scale(parts[i], float32(i+1))
		}
		return Concat(parts, c.int("axis"))
	},
	"concat":       func(c *goldenCase, x []*Var) *Var { return Concat([]*Var{x[0], x[1], x[0]}, c.int("axis")) },
	"stack":        func(c *goldenCase, x []*Var) *Var { return Stack(x, c.int("axis")) },
	"index_select": func(c *goldenCase, x []*Var) *Var { return IndexSelect(x[0], c.int("axis"), c.ints("index")) },
	"gather": func(c *goldenCase, x []*Var) *Var {
		idx := c.ints("index")
		t := tensor.Make[int32](c.ints("index_shape")...)
		for i, v := range idx {
			t.Data()[i] = int32(v)
		}
		return Gather(x[0], c.int("axis"), t)
	},
	"where":       func(c *goldenCase, x []*Var) *Var { return Where(c.bools("mask"), x[0], x[1]) },
	"masked_fill": func(c *goldenCase, x []*Var) *Var { return MaskedFill(x[0], c.bools("mask"), c.float("value")) },
	"embedding":   func(c *goldenCase, x []*Var) *Var { return Embedding(x[0], c.ints("index"), c.ints("shape")...) },

	"sum":       func(c *goldenCase, x []*Var) *Var { return Sum(x[0]) },
	"mean":      func(c *goldenCase, x []*Var) *Var { return Mean(x[0]) },
	"sum_axes":  func(c *goldenCase, x []*Var) *Var { return SumAxes(x[0], c.bool("keep"), c.ints("axes")...) },
	"mean_axes": func(c *goldenCase, x []*Var) *Var { return MeanAxes(x[0], c.bool("keep"), c.ints("axes")...) },
	"max": func(c *goldenCase, x []*Var) *Var {
		v, idx := Max(x[0], c.int("axis"), c.bool("keep"))
		c.got = map[string][]float32{"indices": intsToFloats(idx)}
		return v
	},
	"topk": func(c *goldenCase, x []*Var) *Var {
		v, idx := TopK(x[0], c.int("k"), c.int("axis"), c.bool("largest"))
		c.got = map[string][]float32{"indices": intsToFloats(idx)}
		return v
	},
	"attention": func(c *goldenCase, x []*Var) *Var {
		out, _ := Attention(x[0], x[1], x[2], c.float("scale"))
		return out
	},
	"drop_path": func(c *goldenCase, x []*Var) *Var { return DropPath(x[0], c.float("p"), c.bools("keep")) },
	"patch_embed": func(c *goldenCase, x []*Var) *Var {
		p := c.int("patch")
		y := Conv2d(x[0], x[1], x[2], Conv2dOptions{Stride: []int{p, p}})
		return Transpose(Flatten(y, 2, -1), 1, 2)
	},
	"resize_nearest": func(c *goldenCase, x []*Var) *Var {
		o := c.ints("out")
		return ResizeNearest(x[0], o[0], o[1])
	},
	"roi_align": func(c *goldenCase, x []*Var) *Var {
		o := c.ints("out")
		return RoIAlign(x[0], c.konst("boxes"), c.ints("batch"), RoIAlignOptions{OutputSize: [2]int{o[0], o[1]},
			SpatialScale: c.float("scale"), SamplingRatio: c.int("sampling"), Aligned: c.bool("aligned")})
	},
	"multiscale_roi_align": func(c *goldenCase, x []*Var) *Var {
		o := c.ints("out")
		return MultiLevelRoIAlign(x, c.konst("boxes"), c.ints("batch"), PoolerOptions{
			RoIAlignOptions: RoIAlignOptions{OutputSize: [2]int{o[0], o[1]}, SamplingRatio: c.int("sampling")},
			MinLevel:        2, CanonicalLevel: 4, CanonicalSize: c.float("canonical"), Eps: 1e-6})
	},
	"resize_bilinear": func(c *goldenCase, x []*Var) *Var {
		o := c.ints("out")
		return ResizeBilinear(x[0], o[0], o[1], c.bool("align_corners"))
	},
}

// closeTo reports the first element of got that differs from want by more
// than 1e-5 + 1e-4·|want|.
func closeTo(got []float32, want *goldenTensor, gotShape []int) error {
	if !tensor.EqualShapes(gotShape, want.Shape) {
		return fmt.Errorf("shape %v, want %v", gotShape, want.Shape)
	}
	for i, w := range want.Data {
		if d := math.Abs(float64(got[i]) - float64(w)); d > 1e-5+1e-4*math.Abs(float64(w)) || math.IsNaN(float64(got[i])) {
			return fmt.Errorf("element %d = %v, want %v", i, got[i], w)
		}
	}
	return nil
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		var doc struct {
			Cases []*goldenCase `json:"cases"`
		}
		golden.Load(t, f, &doc)
		for _, c := range doc.Cases {
			t.Run(c.Op+"/"+c.Name, func(t *testing.T) {
				fn, ok := goldenOps[c.Op]
				if !ok {
					t.Fatalf("no engine op for golden op %q", c.Op)
				}
				seen[c.Op] = true
				x := make([]*Var, len(c.Inputs))
				for i := range c.Inputs {
					x[i] = Param(c.Inputs[i].tensor())
				}
				y := fn(c, x)
				if err := closeTo(y.Value().Data(), &c.Output, y.Shape()); err != nil {
					t.Fatalf("forward: %v", err)
				}
				for k, want := range c.Extra {
					if err := closeTo(c.got[k], &want, want.Shape); err != nil {
						t.Fatalf("%s: %v", k, err)
					}
				}
				y.Backward(WithGrad(c.Weight.tensor()))
				for i, want := range c.Grads {
					if want == nil {
						continue
					}
					g := x[i].Grad()
					if g == nil {
						t.Fatalf("no gradient for input %d", i)
					}
					if err := closeTo(g.Data(), want, g.Shape()); err != nil {
						t.Fatalf("gradient of input %d: %v", i, err)
					}
				}
			})
		}
	}
	for op := range goldenOps {
		if !seen[op] {
			t.Errorf("op %q has no golden case", op)
		}
	}
}
