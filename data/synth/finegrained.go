package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"

	"argus/internal/atomicfile"
)

// bird is a fine-grained class: the small local parts that tell it apart.
type bird struct {
	beak  int // short, long, hooked
	ring  int // eye ring: none, white, yellow
	bars  int // wing bars: 0, 1, 2
	crest int // none, crest
}

func (b bird) name(i int) string {
	return fmt.Sprintf("%02d_%s_%s_%dbar_%s", i, []string{"short", "long", "hooked"}[b.beak],
		[]string{"noring", "whitering", "yellowring"}[b.ring], b.bars, []string{"plain", "crest"}[b.crest])
}

// FineGrained writes a fine-grained classification set in image folders:
// 20 bird species that share body shape, colour distribution, pose and
// backgrounds and differ only in small local parts — beak shape, eye ring,
// wing bars and crest — each a few percent of the image, the cue that
// local attention must find. o.Size images per class (default 30; a fifth,
// at least one, under val/, the rest under train/), 160×160 JPEGs in
// train/CLASS/ and val/CLASS/.
func FineGrained(out string, o Options) (*Summary, error) {
	if o.Easy {
		return nil, fmt.Errorf("synth finegrained: there is no easy variant (detection has one)")
	}
	per := o.Size
	if per <= 0 {
		per = 30
	}
	if per < 2 || per > maxImages/20 {
		return nil, fmt.Errorf("synth finegrained: size %d, want 2..%d images per class", per, maxImages/20)
	}
	const classes = 20
	var all []bird
	for b := range 3 {
		for r := range 3 {
			for w := range 3 {
				for c := range 2 {
					all = append(all, bird{b, r, w, c})
				}
			}
		}
	}
	pick := rngFor(o.Seed, 5).Perm(len(all))[:classes]
	nVal := max(per/5, 1)
	sum := &Summary{Task: "finegrained", Out: out, Seed: o.Seed, Size: per, Images: per * classes,
		Splits: map[string]int{"train": (per - nVal) * classes, "val": nVal * classes}}
	names := make([]string, classes)
	for i, k := range pick {
		names[i] = all[k].name(i)
	}
	sum.Stats = map[string]any{"classes": names}
	err := atomicfile.Dir(out, func(tmp string) error {
		err := parallel(per*classes, o, func(i int) error {
			cl, k := i/per, i%per
			split := "train"
			if k >= per-nVal {
				split = "val"
			}
			c := drawBird(rngFor(o.Seed, 6, i), all[pick[cl]])
			return writeImage(filepath.Join(tmp, split, names[cl], fmt.Sprintf("%04d.jpg", k)), c.img)
		})
		if err != nil {
			return fmt.Errorf("synth finegrained: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sum, nil
}

// drawBird paints a bird of class b on a cluttered background.
func drawBird(r *rand.Rand, b bird) *canvas {
	const W, H = 160, 160
	c := newCanvas(W, H, false)
	c.rect(0, 0, W, H, texture(r, jitter(r, rgb{0.55, 0.7, 0.5}, 0.25), jitter(r, rgb{0.6, 0.6, 0.7}, 0.25)), -1)
	// Branches.
	for range 1 + r.IntN(3) {
		y := r.Float64() * H
		c.line(-5, y, W+5, y+(r.Float64()-0.5)*60, 3+r.Float64()*4, flat(jitter(r, rgb{0.4, 0.3, 0.2}, 0.1)), -1)
	}
	s := 70 + r.Float64()*40
	cx, cy := W/2+(r.Float64()-0.5)*30, H/2+(r.Float64()-0.5)*20
	dir := 1.0
	if r.IntN(2) == 0 {
		dir = -1
	}
	X := func(dx float64) float64 { return cx + dir*dx*s }
	Y := func(dy float64) float64 { return cy + dy*s }
	// Colours shared by every class.
	body := jitter(r, []rgb{{0.55, 0.4, 0.25}, {0.4, 0.45, 0.5}, {0.7, 0.6, 0.35}, {0.3, 0.3, 0.3}}[r.IntN(4)], 0.08)
	wing := rgb{body[0] * 0.7, body[1] * 0.7, body[2] * 0.7}
	belly := jitter(r, rgb{0.85, 0.8, 0.7}, 0.08)
	// Legs and tail.
	leg := flat(rgb{0.3, 0.25, 0.2})
	c.line(X(-0.05), Y(0.2), X(-0.08), Y(0.42), 2, leg, -1)
	c.line(X(0.08), Y(0.2), X(0.06), Y(0.42), 2, leg, -1)
	c.poly([][2]float64{{X(-0.35), Y(-0.05)}, {X(-0.75), Y(0.1)}, {X(-0.72), Y(0.22)}, {X(-0.3), Y(0.12)}}, flat(wing), -1)
	// Body, belly, wing.
	c.ellipse(cx, cy, s*0.45, s*0.27, flat(body), -1)
	c.ellipse(X(0.05), Y(0.1), s*0.3, s*0.15, flat(belly), -1)
	c.ellipse(X(-0.1), Y(-0.02), s*0.28, s*0.15, flat(wing), -1)
	bar := flat(rgb{0.95, 0.95, 0.9})
	for k := range b.bars {
		x := -0.05 - 0.12*float64(k)
		c.line(X(x), Y(-0.12), X(x-0.05), Y(0.08), math.Max(1.5, s*0.025), bar, -1)
	}
	// Head, crest, eye ring, eye, beak.
	hx, hy, hr := X(0.42), Y(-0.2), s*0.16
	if b.crest == 1 {
		c.poly([][2]float64{{X(0.34), hy - hr*0.7}, {X(0.3), hy - hr*1.7}, {X(0.44), hy - hr*0.85}}, flat(wing), -1)
	}
	c.ellipse(hx, hy, hr, hr, flat(body), -1)
	ex, ey := X(0.46), Y(-0.23)
	if b.ring > 0 {
		col := []rgb{{}, {0.97, 0.97, 0.97}, {0.95, 0.85, 0.1}}[b.ring]
		c.ellipse(ex, ey, s*0.045, s*0.045, flat(col), -1)
	}
	c.ellipse(ex, ey, s*0.022, s*0.022, flat(rgb{0.02, 0.02, 0.02}), -1)
	beak := flat(jitter(r, rgb{0.85, 0.65, 0.2}, 0.05))
	bx := 0.42 + 0.15
	switch b.beak {
	case 0:
		c.poly([][2]float64{{X(bx - 0.02), Y(-0.24)}, {X(bx + 0.1), Y(-0.2)}, {X(bx - 0.02), Y(-0.16)}}, beak, -1)
	case 1:
		c.poly([][2]float64{{X(bx - 0.02), Y(-0.23)}, {X(bx + 0.28), Y(-0.2)}, {X(bx - 0.02), Y(-0.17)}}, beak, -1)
	default:
		c.poly([][2]float64{{X(bx - 0.02), Y(-0.25)}, {X(bx + 0.1), Y(-0.23)}, {X(bx + 0.12), Y(-0.13)}, {X(bx + 0.06), Y(-0.17)}, {X(bx - 0.02), Y(-0.15)}}, beak, -1)
	}
	c.noise(r, 0.03)
	c.clamp()
	return c
}
