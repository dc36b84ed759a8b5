package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"argus/data/imageio"
	"argus/internal/atomicfile"
)

// Scene classes, painted into the label map before each dataset's ids
// replace them.
const (
	clsVoid = iota
	clsSky
	clsBuilding
	clsVegetation
	clsTerrain
	clsRoad
	clsSidewalk
	clsFence
	clsPole
	clsSign
	clsCar
	clsPerson
	clsBicycle
	clsEgo
	numScene
)

// segStyle is one segmentation dataset: its layout, resolution, camera
// style and label set.
type segStyle struct {
	name, layout string
	w, h         int
	// ids maps scene classes to the ids written in the label PNGs.
	ids [numScene]uint8
	// gain, bright and noise are the camera style; ego paints a car hood.
	gain   rgb
	bright float32
	noise  float32
	ego    bool
	// mapping, if set, is written as mapping.txt.
	mapping string
}

var segStyles = []segStyle{
	{
		name: "cityscapes", layout: "cityscapes", w: 512, h: 256, gain: rgb{1, 1, 1}, bright: 1, noise: 0.02, ego: true,
		// Cityscapes labelIds.
		ids: [numScene]uint8{clsVoid: 0, clsSky: 23, clsBuilding: 11, clsVegetation: 21, clsTerrain: 22, clsRoad: 7,
			clsSidewalk: 8, clsFence: 13, clsPole: 17, clsSign: 20, clsCar: 26, clsPerson: 24, clsBicycle: 33, clsEgo: 1},
	},
	{
		name: "camvid", layout: "camvid", w: 480, h: 360, gain: rgb{1.1, 1.0, 0.85}, bright: 1.05, noise: 0.03,
		// SegNet's 11 CamVid classes; terrain merges into tree, void is 255.
		ids: [numScene]uint8{clsVoid: 255, clsSky: 0, clsBuilding: 1, clsPole: 2, clsRoad: 3, clsSidewalk: 4,
			clsVegetation: 5, clsTerrain: 5, clsSign: 6, clsFence: 7, clsCar: 8, clsPerson: 9, clsBicycle: 10, clsEgo: 255},
	},
	{
		name: "coarse", layout: "cityscapes", w: 320, h: 240, gain: rgb{0.7, 0.8, 1.1}, bright: 0.6, noise: 0.06,
		// Scene ids written raw; mapping.txt folds them into Cityscapes'
		// seven categories.
		ids: [numScene]uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13},
		mapping: `# raw id -> train id: the seven Cityscapes categories
5 0 flat
6 0
2 1 construction
7 1
8 2 object
9 2
3 3 nature
4 3
1 4 sky
11 5 human
10 6 vehicle
12 6
`,
	},
}

// Segmentation writes three street-scene segmentation datasets of o.Size
// images each (default 100, a fifth for val) that differ in camera style,
// resolution and label set, for cross-dataset training: "cityscapes"
// (512×256, Cityscapes layout and labelIds, with an ego-vehicle hood that
// maps to ignore), "camvid" (480×360, SegNet's CamVid layout and 11 merged
// classes, void written as 255) and "coarse" (320×240, dark and bluish,
// Cityscapes layout with a mapping.txt onto the seven Cityscapes
// categories). Scenes hold sky, buildings, vegetation, terrain, road,
// sidewalks, fences, poles, signs, cars, people and bicycles in
// perspective.
func Segmentation(out string, o Options) (*Summary, error) {
	if o.Easy {
		return nil, fmt.Errorf("synth segmentation: there is no easy variant (detection has one)")
	}
	n := o.Size
	if n <= 0 {
		n = 100
	}
	if n < 2 || n > maxImages/3 {
		return nil, fmt.Errorf("synth segmentation: size %d, want 2..%d images per dataset", n, maxImages/3)
	}
	nVal := max(n/5, 1)
	sum := &Summary{Task: "segmentation", Out: out, Seed: o.Seed, Size: n, Images: n * len(segStyles), Splits: map[string]int{}}
	err := atomicfile.Dir(out, func(tmp string) error {
		for _, st := range segStyles {
			sum.Splits[st.name+"/train"] = n - nVal
			sum.Splits[st.name+"/val"] = nVal
			if st.mapping != "" {
				if err := os.MkdirAll(filepath.Join(tmp, st.name), 0o755); err != nil {
					return err
				}
				if err := atomicfile.WriteFile(filepath.Join(tmp, st.name, "mapping.txt"), []byte(st.mapping)); err != nil {
					return err
				}
			}
		}
		err := parallel(n*len(segStyles), o, func(i int) error {
			si, k := i/n, i%n
			st := segStyles[si]
			split := "train"
			if k >= n-nVal {
				split = "val"
			}
			c := drawStreet(rngFor(o.Seed, 4, si, k), st)
			for p, v := range c.mask.Pix {
				c.mask.Pix[p] = st.ids[v]
			}
			root := filepath.Join(tmp, st.name)
			var img, lab string
			switch st.layout {
			case "cityscapes":
				city := []string{"aachen", "bremen", "cologne"}[k%3]
				base := fmt.Sprintf("%s_%06d_%06d", city, k, 19)
				img = filepath.Join(root, "leftImg8bit", split, city, base+"_leftImg8bit.png")
				lab = filepath.Join(root, "gtFine", split, city, base+"_gtFine_labelIds.png")
			default:
				base := fmt.Sprintf("seq01_%05d.png", k)
				img = filepath.Join(root, split, base)
				lab = filepath.Join(root, split+"annot", base)
			}
			if err := writeImage(img, c.img); err != nil {
				return err
			}
			return writeMask(lab, c.mask)
		})
		if err != nil {
			return fmt.Errorf("synth segmentation: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sum, nil
}

// drawStreet paints a street scene with its scene-class label map.
func drawStreet(r *rand.Rand, st segStyle) *canvas {
	W, H := st.w, st.h
	c := newCanvas(W, H, true)
	fw, fh := float64(W), float64(H)
	hy := fh * (0.35 + 0.15*r.Float64())
	vx := fw * (0.35 + 0.3*r.Float64())
	// Sky.
	c.rect(0, 0, W, int(hy)+1, texture(r, jitter(r, rgb{0.45, 0.65, 0.95}, 0.1), jitter(r, rgb{0.8, 0.88, 0.98}, 0.05)), clsSky)
	// Buildings along the horizon, with windows.
	for x := -r.IntN(40); x < W; {
		bw := W/10 + r.IntN(W/5)
		top := int(hy * (0.05 + 0.8*r.Float64()))
		wall := jitter(r, []rgb{{0.6, 0.55, 0.5}, {0.7, 0.4, 0.3}, {0.5, 0.5, 0.55}, {0.8, 0.78, 0.7}}[r.IntN(4)], 0.08)
		c.rect(x, top, x+bw, int(hy)+2, texture(r, wall, jitter(r, wall, 0.05)), clsBuilding)
		win := jitter(r, rgb{0.2, 0.25, 0.3}, 0.1)
		for wy := top + 6; wy+8 < int(hy); wy += 14 {
			for wx := x + 5; wx+8 < x+bw; wx += 12 {
				c.rect(wx, wy, wx+6, wy+8, flat(win), clsBuilding)
			}
		}
		x += bw
	}
	// Ground: sidewalks fill below the horizon, the road is a trapezoid
	// to the vanishing point, terrain strips at the far edges.
	c.rect(0, int(hy), W, H, texture(r, jitter(r, rgb{0.6, 0.58, 0.55}, 0.05), jitter(r, rgb{0.7, 0.68, 0.64}, 0.05)), clsSidewalk)
	left, right := fw*(0.05+0.15*r.Float64()), fw*(0.8+0.15*r.Float64())
	c.poly([][2]float64{{vx - 4, hy}, {vx + 4, hy}, {right, fh}, {left, fh}}, texture(r, jitter(r, rgb{0.3, 0.3, 0.32}, 0.04), jitter(r, rgb{0.36, 0.36, 0.38}, 0.04)), clsRoad)
	// Lane marks are road.
	for t := 0.1; t < 1; t += 0.2 {
		y0, y1 := hy+(fh-hy)*t, hy+(fh-hy)*(t+0.08)
		x0 := vx + ((left+right)/2-vx)*t
		x1 := vx + ((left+right)/2-vx)*(t+0.08)
		c.line(x0, y0, x1, y1, 1+4*t, flat(rgb{0.9, 0.9, 0.85}), clsRoad)
	}
	grass := texture(r, jitter(r, rgb{0.35, 0.55, 0.2}, 0.08), jitter(r, rgb{0.45, 0.5, 0.25}, 0.08))
	c.poly([][2]float64{{0, hy + (fh-hy)*0.3}, {left * 0.5, fh}, {0, fh}}, grass, clsTerrain)
	// Trees in front of the buildings.
	for range 2 + r.IntN(5) {
		tx := r.Float64() * fw
		ty := hy * (0.6 + 0.4*r.Float64())
		rad := fh * (0.06 + 0.1*r.Float64())
		leaf := texture(r, jitter(r, rgb{0.15, 0.45, 0.15}, 0.1), jitter(r, rgb{0.25, 0.55, 0.2}, 0.1))
		c.rect(int(tx-rad*0.1), int(ty), int(tx+rad*0.1), int(hy+rad*0.3), flat(rgb{0.35, 0.25, 0.15}), clsVegetation)
		c.ellipse(tx, ty, rad, rad*1.1, leaf, clsVegetation)
		c.ellipse(tx+rad*0.5, ty+rad*0.2, rad*0.7, rad*0.7, leaf, clsVegetation)
	}
	// Fence along one sidewalk.
	if r.IntN(2) == 0 {
		fy := hy + (fh-hy)*0.15
		col := flat(jitter(r, rgb{0.5, 0.45, 0.35}, 0.1))
		c.rect(0, int(fy), int(left*0.9), int(fy)+3, col, clsFence)
		for x := 2; x < int(left*0.9); x += 8 {
			c.rect(x, int(fy)-10, x+2, int(fy)+8, col, clsFence)
		}
	}
	// Objects from far to near so nearer ones occlude.
	type obj struct {
		kind int
		t    float64 // depth: 0 at the horizon, 1 at the bottom
		x    float64
	}
	var objs []obj
	for range 1 + r.IntN(4) {
		objs = append(objs, obj{clsCar, 0.15 + 0.85*r.Float64(), r.Float64()})
	}
	for range r.IntN(5) {
		objs = append(objs, obj{clsPerson, 0.1 + 0.9*r.Float64(), r.Float64()})
	}
	for range r.IntN(3) {
		objs = append(objs, obj{clsPole, 0.1 + 0.9*r.Float64(), r.Float64()})
	}
	if r.IntN(3) == 0 {
		objs = append(objs, obj{clsBicycle, 0.2 + 0.8*r.Float64(), r.Float64()})
	}
	for i := 1; i < len(objs); i++ {
		for j := i; j > 0 && objs[j].t < objs[j-1].t; j-- {
			objs[j], objs[j-1] = objs[j-1], objs[j]
		}
	}
	for _, o := range objs {
		y := hy + (fh-hy)*o.t
		scale := fh * (0.04 + 0.5*o.t)
		// Road x range at depth t; people and poles go on the sidewalks.
		rl := vx + (left-vx)*o.t
		rr := vx + (right-vx)*o.t
		switch o.kind {
		case clsCar:
			x := rl + (rr-rl)*o.x
			w, h := scale*1.6, scale*0.8
			body := jitter(r, randColor(r), 0.1)
			c.poly([][2]float64{{x - w/2, y - h*0.45}, {x + w/2, y - h*0.45}, {x + w/2, y}, {x - w/2, y}}, flat(body), clsCar)
			c.poly([][2]float64{{x - w*0.3, y - h}, {x + w*0.3, y - h}, {x + w*0.4, y - h*0.45}, {x - w*0.4, y - h*0.45}}, flat(body), clsCar)
			c.rect(int(x-w*0.25), int(y-h*0.9), int(x+w*0.25), int(y-h*0.5), flat(rgb{0.2, 0.25, 0.3}), clsCar)
			c.ellipse(x-w*0.3, y, h*0.18, h*0.18, flat(rgb{0.05, 0.05, 0.05}), clsCar)
			c.ellipse(x+w*0.3, y, h*0.18, h*0.18, flat(rgb{0.05, 0.05, 0.05}), clsCar)
		case clsPerson, clsBicycle:
			x := rl * o.x
			if r.IntN(2) == 0 {
				x = rr + (fw-rr)*o.x
			}
			h := scale * 1.1
			if o.kind == clsBicycle {
				wc := flat(rgb{0.1, 0.1, 0.1})
				c.ellipse(x-h*0.25, y-h*0.15, h*0.15, h*0.15, wc, clsBicycle)
				c.ellipse(x+h*0.25, y-h*0.15, h*0.15, h*0.15, wc, clsBicycle)
				c.line(x-h*0.25, y-h*0.15, x+h*0.25, y-h*0.15, math.Max(1, h*0.03), wc, clsBicycle)
				y -= h * 0.3
				h *= 0.8
			}
			shirt := flat(randColor(r))
			c.rect(int(x-h*0.1), int(y-h*0.45), int(x+h*0.1), int(y), flat(randColor(r)), clsPerson)
			c.rect(int(x-h*0.13), int(y-h*0.82), int(x+h*0.13), int(y-h*0.43), shirt, clsPerson)
			c.ellipse(x, y-h*0.9, h*0.08, h*0.1, flat(rgb{0.85, 0.7, 0.6}), clsPerson)
		case clsPole:
			x := rl * o.x
			if r.IntN(2) == 0 {
				x = rr + (fw-rr)*o.x
			}
			h := scale * 2.5
			pw := math.Max(1.5, scale*0.06)
			c.rect(int(x-pw), int(y-h), int(x+pw)+1, int(y), flat(rgb{0.4, 0.4, 0.42}), clsPole)
			sign := flat([]rgb{{0.8, 0.1, 0.1}, {0.1, 0.3, 0.8}, {0.95, 0.8, 0.1}}[r.IntN(3)])
			if r.IntN(2) == 0 {
				c.ellipse(x, y-h, scale*0.2, scale*0.2, sign, clsSign)
			} else {
				c.rect(int(x-scale*0.2), int(y-h-scale*0.2), int(x+scale*0.2), int(y-h+scale*0.2), sign, clsSign)
			}
		}
	}
	if st.ego {
		hood := flat(rgb{0.15, 0.15, 0.18})
		c.poly([][2]float64{{0, fh}, {fw * 0.1, fh * 0.92}, {fw * 0.9, fh * 0.92}, {fw, fh}}, hood, clsEgo)
	}
	// Camera style.
	n := W * H
	for k := 0; k < 3; k++ {
		g := st.gain[k] * st.bright
		p := c.img.Pix[k*n : (k+1)*n]
		for i := range p {
			p[i] *= g
		}
	}
	c.noise(r, st.noise)
	c.clamp()
	return c
}

// validLabels reports whether every label of m is one the style writes or
// 255.
func validLabels(m *imageio.Mask, st segStyle) bool {
	var ok [256]bool
	for _, v := range st.ids {
		ok[v] = true
	}
	ok[imageio.Ignore] = true
	for _, v := range m.Pix {
		if !ok[v] {
			return false
		}
	}
	return true
}
