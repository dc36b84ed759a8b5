package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strconv"

	"argus/data/cocofile"
	"argus/data/imageio"
	"argus/data/mnist"
	"argus/data/transform"
	"argus/internal/atomicfile"
)

// COCO's area ranges: small below 32², large above 96².
const (
	smallArea = 32 * 32
	largeArea = 96 * 96
)

// detImage is one generated detection image and its objects.
type detImage struct {
	w, h  int
	boxes [][4]float64 // xywh
	cats  []int64
	// occluded counts objects partly hidden by later ones.
	occluded int
}

// Detection writes a COCO detection dataset of o.Size canvases (default
// 1000; a fifth for val, the rest for train): 2 to 7 real MNIST digits per
// canvas (training digits for train, test digits for val), coloured and
// scaled so that their boxes fill COCO's small, medium and large ranges
// about equally, placed over cluttered textured backgrounds with stroke
// distractors. Later digits may hide up to half of an earlier one; each
// box is the extent of the digit's visible strokes and its area the box
// area. Layout: train2017/, val2017/ and
// annotations/instances_{train,val}2017.json, categories 1..10 named "0"
// to "9".
//
// With o.Easy the canvases are 128 to 160 pixels (about the size a small
// detector trains at, so resizing loses little), the background is one
// texture without shapes or stroke distractors, each canvas holds 1 to 4
// digits whose box areas are log-uniform from 1.15·32² to 72² pixels
// (COCO's medium range, nothing small or large; the visible box of a
// partly hidden digit may be smaller) in a colour that contrasts with
// the background, and a digit
// hides at most a quarter of an earlier one. The ten classes stay.
func Detection(out string, o Options) (*Summary, error) {
	n := o.Size
	if n <= 0 {
		n = 1000
	}
	if n < 2 || n > maxImages {
		return nil, fmt.Errorf("synth detection: size %d, want 2..%d images", n, maxImages)
	}
	dir := o.MNISTDir
	if dir == "" {
		var err error
		if dir, err = mnist.DefaultDir(); err != nil {
			return nil, fmt.Errorf("synth detection: %w", err)
		}
	}
	train, test, err := mnist.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("synth detection: %w", err)
	}
	nVal := max(n/5, 1)
	nTrain := n - nVal
	imgs := make([]detImage, n)
	sum := &Summary{Task: "detection", Out: out, Seed: o.Seed, Size: n, Images: n,
		Splits: map[string]int{"train2017": nTrain, "val2017": nVal}}
	err = atomicfile.Dir(out, func(tmp string) error {
		err := parallel(n, o, func(i int) error {
			split, set, k := "train2017", train, i
			if i >= nTrain {
				split, set, k = "val2017", test, i-nTrain
			}
			c, d := drawDetection(rngFor(o.Seed, 1, i), set, o.Easy)
			imgs[i] = d
			return writeImage(filepath.Join(tmp, split, fileName(k+1)), c.img)
		})
		if err != nil {
			return fmt.Errorf("synth detection: %w", err)
		}
		var cats []cocofile.Category
		for d := range 10 {
			cats = append(cats, cocofile.Category{ID: int64(d + 1), Name: strconv.Itoa(d), Supercategory: "digit"})
		}
		counts := map[string]int{}
		objects, occluded := 0, 0
		for _, split := range []struct {
			name   string
			lo, hi int
		}{{"train2017", 0, nTrain}, {"val2017", nTrain, n}} {
			ds := &cocofile.Dataset{Categories: cats, Images: []cocofile.Image{}, Annotations: []cocofile.Annotation{}}
			for i := split.lo; i < split.hi; i++ {
				d := imgs[i]
				id := int64(i - split.lo + 1)
				ds.Images = append(ds.Images, cocofile.Image{ID: id, Width: d.w, Height: d.h, FileName: fileName(int(id))})
				for j, b := range d.boxes {
					area := b[2] * b[3]
					ds.Annotations = append(ds.Annotations, cocofile.Annotation{
						ID: int64(len(ds.Annotations) + 1), ImageID: id, CategoryID: d.cats[j], BBox: b, Area: area,
					})
					switch {
					case area < smallArea:
						counts["small"]++
					case area > largeArea:
						counts["large"]++
					default:
						counts["medium"]++
					}
				}
				objects += len(d.boxes)
				occluded += d.occluded
			}
			name := filepath.Join(tmp, "annotations", "instances_"+split.name+".json")
			if err := mkdirFor(name); err != nil {
				return err
			}
			if err := cocofile.WriteDatasetFile(name, ds); err != nil {
				return fmt.Errorf("synth detection: %w", err)
			}
		}
		sum.Stats = map[string]any{"objects": objects, "occluded": occluded, "small": counts["small"], "medium": counts["medium"], "large": counts["large"]}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sum, nil
}

func fileName(id int) string { return fmt.Sprintf("%012d.jpg", id) }

// drawDetection paints one canvas.
func drawDetection(r *rand.Rand, set *mnist.Set, easy bool) (*canvas, detImage) {
	w, h := 256+32*r.IntN(6), 256+32*r.IntN(6)
	var want int
	var bg rgb
	if easy {
		w, h, want = 128+16*r.IntN(3), 128+16*r.IntN(3), 1+r.IntN(4)
	}
	c := newCanvas(w, h, false)
	if easy {
		bg = randColor(r)
		c.rect(0, 0, w, h, texture(r, bg, jitter(r, bg, 0.1)), -1)
	} else {
		background(c, r)
		want = 2 + r.IntN(6)
	}
	owner := make([]int16, w*h)
	for i := range owner {
		owner[i] = -1
	}
	var digits []placed
	var visible []int
	for len(digits) < want {
		p, ok := placeDigit(r, set, w, h, owner, visible, easy, bg)
		if !ok {
			break
		}
		digits = append(digits, p)
		visible = append(visible, 0)
		for y := p.y; y < p.y+p.h; y++ {
			for x := p.x; x < p.x+p.w; x++ {
				if p.alpha[(y-p.y)*p.w+x-p.x] > strokeAlpha {
					if o := owner[y*w+x]; o >= 0 {
						visible[o]--
					}
					owner[y*w+x] = int16(len(digits) - 1)
					visible[len(digits)-1]++
				}
			}
		}
	}
	d := detImage{w: w, h: h}
	// Paint in order; the owner map already says which digit shows where.
	for _, p := range digits {
		for y := 0; y < p.h; y++ {
			for x := 0; x < p.w; x++ {
				// Strokes a little more opaque than MNIST's soft edges.
				a := min(1, 1.5*p.alpha[y*p.w+x])
				if a > 0 {
					c.blend(p.x+x, p.y+y, p.color(x, y), a)
				}
			}
		}
	}
	c.noise(r, 0.03)
	c.clamp()
	for k, p := range digits {
		x0, y0, x1, y1 := w, h, -1, -1
		visible := 0
		for y := p.y; y < p.y+p.h; y++ {
			for x := p.x; x < p.x+p.w; x++ {
				if owner[y*w+x] == int16(k) {
					x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
					visible++
				}
			}
		}
		if visible == 0 {
			continue
		}
		if visible < p.strokes {
			d.occluded++
		}
		d.boxes = append(d.boxes, [4]float64{float64(x0), float64(y0), float64(x1 - x0 + 1), float64(y1 - y0 + 1)})
		d.cats = append(d.cats, int64(p.digit+1))
	}
	return c, d
}

// placed is a digit on the canvas: its alpha over a w×h box at (x, y).
type placed struct {
	digit, x, y, w, h int
	alpha             []float32
	color             shader
	strokes           int
}

// strokeAlpha is the alpha above which a digit pixel counts as its stroke
// (for boxes and occlusion).
const strokeAlpha = 0.35

// placeDigit picks a digit, a size class and a place where it hides at
// most half of any earlier digit's visible strokes (visible[k] counts the
// pixels digit k owns in owner). In the easy variant (see Detection) the
// size range, the occlusion bound and the colour, chosen against the
// background colour bg, are the easy ones.
func placeDigit(r *rand.Rand, set *mnist.Set, W, H int, owner []int16, visible []int, easy bool, bg rgb) (placed, bool) {
	j := r.IntN(set.Len())
	crop := digitCrop(set, j)
	aspect := float64(crop.W) / float64(crop.H)
	// One size class in three; the area is log-uniform inside it.
	var lo, hi float64
	switch r.IntN(3) {
	case 0:
		lo, hi = 120, smallArea*0.9
	case 1:
		lo, hi = smallArea*1.15, largeArea*0.9
	default:
		lo, hi = largeArea*1.1, math.Min(float64(W*H)*0.3, 200*200)
	}
	hideNum, hideDen := 1, 2
	if easy {
		lo, hi, hideNum, hideDen = smallArea*1.15, 72*72, 1, 4
	}
	area := math.Exp(lo1(r, math.Log(lo), math.Log(hi)))
	h := int(math.Round(math.Sqrt(area / aspect)))
	w := int(math.Round(float64(h) * aspect))
	if easy && h > 96 {
		// A narrow digit (a 1) is kept to three quarters of the canvas.
		h, w = 96, max(int(math.Round(96*aspect)), 2)
	}
	if h < 6 || w < 2 || h > H-2 || w > W-2 {
		return placed{}, false
	}
	alpha := transform.ResizeImage(crop, 0, 0, crop.W, crop.H, w, h).Pix
	strokes := 0
	for _, a := range alpha {
		if a > strokeAlpha {
			strokes++
		}
	}
	hidden := make([]int, len(visible))
	for range 20 {
		x, y := r.IntN(W-w+1), r.IntN(H-h+1)
		clear(hidden)
		for yy := 0; yy < h; yy++ {
			for xx := 0; xx < w; xx++ {
				if alpha[yy*w+xx] > strokeAlpha {
					if o := owner[(y+yy)*W+x+xx]; o >= 0 {
						hidden[o]++
					}
				}
			}
		}
		ok := true
		for k := range visible {
			if hideDen*hidden[k] > hideNum*visible[k] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		col := randColor(r)
		if easy {
			// Light on a dark background, dark on a light one.
			if luma(bg) < 0.5 {
				col = jitter(r, rgb{0.9, 0.9, 0.9}, 0.1)
			} else {
				col = rgb{col[0] * 0.25, col[1] * 0.25, col[2] * 0.25}
			}
			ox, oy := x, y
			tex := texture(r, col, jitter(r, col, 0.1))
			return placed{digit: int(set.Labels[j]), x: x, y: y, w: w, h: h, alpha: alpha, strokes: strokes,
				color: func(xx, yy int) rgb { return tex(ox+xx, oy+yy) }}, true
		}
		if luma(col) > 0.5 {
			col = jitter(r, rgb{0.9, 0.9, 0.9}, 0.1)
		}
		// Half the digits are light on dark, half dark on light: the
		// colour is pushed away from the middle grey.
		if r.IntN(2) == 0 {
			col = rgb{col[0] * 0.35, col[1] * 0.35, col[2] * 0.35}
		}
		tex := texture(r, col, jitter(r, col, 0.15))
		ox, oy := x, y
		return placed{digit: int(set.Labels[j]), x: x, y: y, w: w, h: h, alpha: alpha, strokes: strokes,
			color: func(xx, yy int) rgb { return tex(ox+xx, oy+yy) }}, true
	}
	return placed{}, false
}

func lo1(r *rand.Rand, a, b float64) float64 { return a + (b-a)*r.Float64() }

func luma(c rgb) float32 { return 0.299*c[0] + 0.587*c[1] + 0.114*c[2] }

// digitCrop returns MNIST image j cut to the extent of its ink, as a
// one-channel image with samples in [0, 1].
func digitCrop(set *mnist.Set, j int) *imageio.Image {
	R, C := set.Rows, set.Cols
	px := set.Pixels[j*R*C : (j+1)*R*C]
	x0, y0, x1, y1 := C, R, -1, -1
	for y := 0; y < R; y++ {
		for x := 0; x < C; x++ {
			if px[y*C+x] > 0 {
				x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
			}
		}
	}
	if x1 < 0 {
		x0, y0, x1, y1 = 0, 0, C-1, R-1
	}
	m := imageio.NewImage(1, y1-y0+1, x1-x0+1)
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			m.Pix[(y-y0)*m.W+x-x0] = float32(px[y*C+x]) / 255
		}
	}
	return m
}

// background paints a textured, cluttered scene: a textured base, random
// shapes, and stroke-like curves that resemble digit strokes.
func background(c *canvas, r *rand.Rand) {
	w, h := c.img.W, c.img.H
	c.rect(0, 0, w, h, texture(r, randColor(r), randColor(r)), -1)
	for range 8 + r.IntN(20) {
		s := texture(r, randColor(r), randColor(r))
		x, y := r.Float64()*float64(w), r.Float64()*float64(h)
		sz := 8 + r.Float64()*float64(min(w, h))/3
		switch r.IntN(3) {
		case 0:
			c.rect(int(x), int(y), int(x+sz*(0.3+r.Float64())), int(y+sz*(0.3+r.Float64())), s, -1)
		case 1:
			c.ellipse(x, y, sz/2, sz/2*(0.4+r.Float64()), s, -1)
		default:
			var pts [][2]float64
			for k := range 3 + r.IntN(4) {
				a := float64(k) * 2 * math.Pi / 6
				rr := sz / 2 * (0.5 + r.Float64())
				pts = append(pts, [2]float64{x + rr*math.Cos(a), y + rr*math.Sin(a)})
			}
			c.poly(pts, s, -1)
		}
	}
	for range 3 + r.IntN(6) {
		col := flat(randColor(r))
		x, y := r.Float64()*float64(w), r.Float64()*float64(h)
		width := 1 + r.Float64()*4
		for range 3 + r.IntN(4) {
			nx, ny := x+(r.Float64()-0.5)*40, y+(r.Float64()-0.5)*40
			c.line(x, y, nx, ny, width, col, -1)
			x, y = nx, ny
		}
	}
}
