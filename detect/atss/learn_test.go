package atss

import (
	"testing"

	"argus/autograd"
	"argus/box"
	"argus/nn"
	"argus/optim"
	"argus/tensor"
)

// TestDetectorLearnsABox trains the reduced detector on one image with two
// bright boxes of different classes, under each assigner, and checks that
// the loss falls and that inference then finds both boxes with the right
// classes: the assignment, the loss, the box coding and the
// post-processing agree with one another.
func TestDetectorLearnsABox(t *testing.T) {
	img := tensor.Zeros(1, 3, 64, 64)
	paint := func(x0, y0, x1, y1, c int) {
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				img.Data()[(c*64+y)*64+x] = 1
			}
		}
	}
	paint(8, 10, 30, 40, 0)
	paint(36, 30, 60, 58, 1)
	targets := []Target{{Boxes: []float32{8, 10, 30, 40, 36, 30, 60, 58}, Labels: []int{0, 1}}}
	for name, a := range allAssigners() {
		t.Run(name, func(t *testing.T) {
			d := smallDetector(t)
			opt := optim.NewSGD(0.9, 0, false, optim.NewGroup(0.01, 0, nn.Parameters(d)...))
			x := autograd.Const(img)
			crit := NewCriterion(a)
			var first, last float32
			for step := range 150 {
				optim.ZeroGrad(opt)
				ls, err := crit.Loss(d.Predict(x), targets)
				if err != nil {
					t.Fatal(err)
				}
				total := ls.Total()
				total.Backward()
				optim.ClipGradNorm(nn.Vars(d), 10)
				opt.Step()
				if step == 0 {
					first = total.Value().Data()[0]
				}
				last = total.Value().Data()[0]
			}
			if !(last < first/2) {
				t.Errorf("loss %.4f after training, %.4f at first", last, first)
			}
			var out Output
			nn.NoGrad(d, func() { out = d.Predict(x) })
			dets, err := Detect(out, 64, 64, DefaultInferOptions())
			if err != nil {
				t.Fatal(err)
			}
			for g := range 2 {
				gt := []float64{float64(targets[0].Boxes[4*g]), float64(targets[0].Boxes[4*g+1]), float64(targets[0].Boxes[4*g+2]), float64(targets[0].Boxes[4*g+3])}
				found := false
				for _, det := range dets[0][:min(len(dets[0]), 3)] {
					b := []float64{float64(det.Box[0]), float64(det.Box[1]), float64(det.Box[2]), float64(det.Box[3])}
					if det.Label == targets[0].Labels[g] && box.IoU(b, gt)[0] > 0.5 {
						found = true
					}
				}
				if !found {
					t.Errorf("box %d not among the top detections %+v", g, dets[0][:min(len(dets[0]), 3)])
				}
			}
		})
	}
}
