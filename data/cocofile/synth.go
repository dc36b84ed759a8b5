package cocofile

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Synthetic returns a random instances dataset and results for it, the same
// for the same seed: images of 200 to 1200 pixels a side with 1 to 14 objects
// of cats categories (about 5% crowd, all size ranges), and perDet
// detections per image, half of them jittered copies of the objects (some
// with a wrong category) and half random boxes, with scores rounded to 1e-3
// so that ties occur.
func Synthetic(seed uint64, images, perDet, cats int) (*Dataset, []Result) {
	r := rand.New(rand.NewPCG(seed, 0x636f636f))
	d := &Dataset{}
	for c := 1; c <= cats; c++ {
		d.Categories = append(d.Categories, Category{ID: int64(c), Name: fmt.Sprintf("class%d", c)})
	}
	round := func(v float64) float64 { return math.Round(v*100) / 100 }
	var rs []Result
	annID := int64(1)
	for i := range images {
		im := Image{ID: int64(i + 1), Width: 200 + r.IntN(1000), Height: 200 + r.IntN(1000), FileName: fmt.Sprintf("%06d.jpg", i+1)}
		d.Images = append(d.Images, im)
		W, H := float64(im.Width), float64(im.Height)
		randBox := func() [4]float64 {
			// Log-uniform sizes cover small, medium and large objects.
			w := math.Min(W-1, math.Exp(math.Log(4)+r.Float64()*(math.Log(W)-math.Log(4))))
			h := math.Min(H-1, math.Exp(math.Log(4)+r.Float64()*(math.Log(H)-math.Log(4))))
			x := r.Float64() * (W - w)
			y := r.Float64() * (H - h)
			return [4]float64{round(x), round(y), round(w), round(h)}
		}
		n := 1 + r.IntN(14)
		objs := make([]Annotation, n)
		for j := range objs {
			b := randBox()
			objs[j] = Annotation{ID: annID, ImageID: im.ID, CategoryID: int64(1 + r.IntN(cats)), BBox: b,
				Area: round(b[2] * b[3] * (0.6 + 0.4*r.Float64())), IsCrowd: r.Float64() < 0.05}
			annID++
		}
		d.Annotations = append(d.Annotations, objs...)
		for j := range perDet {
			var res Result
			if j%2 == 0 {
				o := objs[r.IntN(n)]
				b := o.BBox
				s := 0.15 * r.NormFloat64()
				x := math.Max(0, b[0]+s*b[2])
				y := math.Max(0, b[1]+0.15*r.NormFloat64()*b[3])
				w := math.Max(1, b[2]*(1+0.15*r.NormFloat64()))
				h := math.Max(1, b[3]*(1+0.15*r.NormFloat64()))
				res = Result{ImageID: im.ID, CategoryID: o.CategoryID, BBox: [4]float64{round(x), round(y), round(w), round(h)},
					Score: math.Round(1000*(0.3+0.7*r.Float64())) / 1000}
				if r.Float64() < 0.2 {
					res.CategoryID = int64(1 + r.IntN(cats))
				}
			} else {
				res = Result{ImageID: im.ID, CategoryID: int64(1 + r.IntN(cats)), BBox: randBox(),
					Score: math.Round(1000*0.6*r.Float64()) / 1000}
			}
			rs = append(rs, res)
		}
	}
	return d, rs
}
