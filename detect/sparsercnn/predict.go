package sparsercnn

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Detection is one detected object: an xyxy box in pixels, its class
// index and its score.
type Detection struct {
	Box   [4]float32
	Label int
	Score float32
}

// Postprocess turns the last stage of a batch into each image's
// detections as the official inference does: the sigmoid scores of all
// proposals and classes flattened, the top topK of them (every proposal's
// box once per class; no NMS), boxes clipped to the image's unpadded size
// (sizes: height, width). They are sorted by decreasing score, ties by
// proposal then class. topK ≤ 0 takes as many as there are proposals.
func Postprocess(last Stage, sizes [][2]int, topK int) [][]Detection {
	ls := last.Logits.Shape()
	b := len(sizes)
	if b == 0 || ls[0]%b != 0 {
		panic(fmt.Sprintf("sparsercnn: %d predictions for %d images", ls[0], b))
	}
	n, classes := ls[0]/b, ls[1]
	if topK <= 0 {
		topK = n
	}
	topK = min(topK, n*classes)
	lv, bv := last.Logits.Value().Data(), last.Boxes.Value().Data()
	out := make([][]Detection, b)
	idx := make([]int, n*classes)
	for i := range b {
		scores := lv[i*n*classes : (i+1)*n*classes]
		for j := range idx {
			idx[j] = j
		}
		slices.SortStableFunc(idx, func(a, c int) int { return cmp.Compare(scores[c], scores[a]) })
		h, w := float32(sizes[i][0]), float32(sizes[i][1])
		dets := make([]Detection, 0, topK)
		for _, j := range idx[:topK] {
			p := i*n + j/classes
			var bx [4]float32
			copy(bx[:], bv[4*p:4*p+4])
			for d, lim := range [4]float32{w, h, w, h} {
				bx[d] = min(max(bx[d], 0), lim)
			}
			s := float32(1 / (1 + math.Exp(-float64(scores[j]))))
			dets = append(dets, Detection{Box: bx, Label: j % classes, Score: s})
		}
		out[i] = dets
	}
	return out
}
