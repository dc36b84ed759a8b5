package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"

	"argus/internal/atomicfile"
)

// person is an identity: a combination of attributes.
type person struct {
	upper, lower, shoes, hair, skin, bagColor rgb
	upperPattern                              int // plain, h-stripes, v-stripes, checks, chest logo
	lowerStyle                                int // trousers, shorts, skirt
	sleeves                                   bool
	bag                                       int // none, backpack, handbag, shoulder bag
	hat                                       bool
	hatColor                                  rgb
	build                                     float64 // torso width factor
	height                                    float64
}

// domain holds a re-ID domain's appearance statistics.
type domain struct {
	name, layout string
	cameras      int
	// palette draws clothing colours.
	palette []rgb
	// sleeveP is the chance of long sleeves; light scales brightness.
	sleeveP, light float64
	// blur is the largest camera blur radius.
	blur int
}

var reidDomains = []domain{
	{name: "market", layout: "market1501", cameras: 6, sleeveP: 0.3, light: 1.05, blur: 1, palette: []rgb{
		{0.9, 0.1, 0.1}, {0.1, 0.3, 0.85}, {0.95, 0.95, 0.95}, {0.1, 0.1, 0.1}, {0.95, 0.85, 0.1}, {0.1, 0.65, 0.2},
		{0.95, 0.5, 0.7}, {0.55, 0.35, 0.2}, {0.5, 0.5, 0.55}, {0.4, 0.1, 0.6}, {0.1, 0.7, 0.75}, {0.95, 0.55, 0.1}}},
	{name: "duke", layout: "dukemtmcreid", cameras: 8, sleeveP: 0.85, light: 0.8, blur: 2, palette: []rgb{
		{0.08, 0.08, 0.1}, {0.2, 0.22, 0.35}, {0.35, 0.3, 0.25}, {0.5, 0.5, 0.5}, {0.6, 0.15, 0.15}, {0.15, 0.3, 0.2},
		{0.75, 0.72, 0.65}, {0.3, 0.2, 0.15}, {0.12, 0.2, 0.4}, {0.45, 0.4, 0.5}}},
}

// camera is a fixed view: background, lighting, colour cast, blur and the
// viewpoints it tends to see.
type camera struct {
	gain             rgb
	bright, contrast float32
	blur             int
	wall, floor      shader
	horizon          int
	views            [3]float64 // front, back, side probabilities
}

func newCamera(r *rand.Rand, d domain) camera {
	c := camera{
		gain:     rgb{float32(0.8 + 0.4*r.Float64()), float32(0.8 + 0.4*r.Float64()), float32(0.8 + 0.4*r.Float64())},
		bright:   float32(d.light * (0.8 + 0.4*r.Float64())),
		contrast: float32(0.7 + 0.5*r.Float64()),
		blur:     r.IntN(d.blur + 1),
		horizon:  40 + r.IntN(60),
	}
	c.wall = texture(r, jitter(r, d.palette[r.IntN(len(d.palette))], 0.2), randColor(r))
	c.floor = texture(r, rgb{0.4, 0.4, 0.4}, jitter(r, rgb{0.55, 0.5, 0.45}, 0.2))
	a, b := r.Float64(), r.Float64()
	c.views = [3]float64{a, b, 1 - (a+b)/2}
	return c
}

func newPerson(r *rand.Rand, d domain) person {
	pick := func() rgb { return jitter(r, d.palette[r.IntN(len(d.palette))], 0.06) }
	skins := []rgb{{0.95, 0.8, 0.7}, {0.8, 0.6, 0.45}, {0.55, 0.38, 0.25}, {0.35, 0.24, 0.16}}
	hairs := []rgb{{0.05, 0.04, 0.03}, {0.35, 0.2, 0.1}, {0.8, 0.65, 0.35}, {0.6, 0.6, 0.6}}
	return person{
		upper: pick(), lower: pick(), shoes: pick(), bagColor: pick(), hatColor: pick(),
		hair: hairs[r.IntN(len(hairs))], skin: skins[r.IntN(len(skins))],
		upperPattern: r.IntN(5), lowerStyle: r.IntN(3), sleeves: r.Float64() < d.sleeveP,
		bag: r.IntN(4), hat: r.IntN(3) == 0,
		build: 0.8 + 0.45*r.Float64(), height: 0.85 + 0.15*r.Float64(),
	}
}

// key identifies the attribute combination (colours by palette slot).
func (p person) key() string {
	q := func(c rgb) string { return fmt.Sprintf("%.1f,%.1f,%.1f", c[0], c[1], c[2]) }
	return fmt.Sprint(q(p.upper), p.upperPattern, q(p.lower), p.lowerStyle, p.sleeves, p.bag, p.hat, math.Round(p.build*4))
}

// drawPerson paints p on a 64×128 canvas seen from view (0 front, 1 back,
// 2 side) by cam.
func drawPerson(r *rand.Rand, p person, view int, cam camera) *canvas {
	const W, H = 64, 128
	c := newCanvas(W, H, false)
	c.rect(0, 0, W, cam.horizon, cam.wall, -1)
	c.rect(0, cam.horizon, W, H, cam.floor, -1)
	// Pose jitter: position, scale, a slight lean.
	s := p.height * (0.88 + 0.1*r.Float64())
	cx := 32 + (r.Float64()-0.5)*10
	top := 6 + (r.Float64())*8
	unit := (H - top - 4) * s / 8 // eight head-heights
	y := func(k float64) float64 { return top + k*unit }
	half := 9 * p.build
	if view == 2 {
		half *= 0.65
	}
	// Legs.
	legW := half * 0.45
	stride := 0.0
	if view == 2 {
		stride = (r.Float64() - 0.5) * 10
	}
	for i, side := range []float64{-1, 1} {
		lx := cx + side*half*0.45
		if view == 2 {
			lx = cx + float64(i*2-1)*stride/2
		}
		legColor := p.lower
		kneeTo := y(8)
		if p.lowerStyle == 1 {
			kneeTo = y(5.8)
		}
		c.poly([][2]float64{{lx - legW/2, y(4.3)}, {lx + legW/2, y(4.3)}, {lx + legW/2, kneeTo}, {lx - legW/2, kneeTo}}, flat(legColor), -1)
		if p.lowerStyle == 1 {
			c.rect(int(lx-legW/2), int(kneeTo), int(lx+legW/2), int(y(7.8)), flat(p.skin), -1)
		}
		c.rect(int(lx-legW/2-1), int(y(7.75)), int(lx+legW/2+1), int(y(8)), flat(p.shoes), -1)
	}
	if p.lowerStyle == 2 {
		c.poly([][2]float64{{cx - half, y(4.2)}, {cx + half, y(4.2)}, {cx + half*1.4, y(6)}, {cx - half*1.4, y(6)}}, flat(p.lower), -1)
	}
	// Arms behind the torso edges.
	armColor := p.skin
	if p.sleeves {
		armColor = p.upper
	}
	if view != 2 {
		for _, side := range []float64{-1, 1} {
			ax := cx + side*(half+2.5)
			c.line(ax, y(1.7), ax+side*1.5, y(4.4), 4, flat(armColor), -1)
			if !p.sleeves {
				c.line(ax, y(1.7), ax+side*0.5, y(2.4), 4.2, flat(p.upper), -1)
			}
		}
	}
	// Backpack seen from the side sticks out behind.
	if p.bag == 1 && view == 2 {
		c.rect(int(cx-half-6), int(y(1.8)), int(cx-half+1), int(y(3.8)), flat(p.bagColor), -1)
	}
	// Torso with its pattern.
	torso := [][2]float64{{cx - half, y(1.5)}, {cx + half, y(1.5)}, {cx + half*0.9, y(4.4)}, {cx - half*0.9, y(4.4)}}
	alt := rgb{1 - p.upper[0], 1 - p.upper[1], 1 - p.upper[2]}
	var sh shader
	switch p.upperPattern {
	case 1:
		sh = func(x, yy int) rgb {
			if (yy/4)%2 == 0 {
				return p.upper
			}
			return alt
		}
	case 2:
		sh = func(x, yy int) rgb {
			if (x/3)%2 == 0 {
				return p.upper
			}
			return alt
		}
	case 3:
		sh = func(x, yy int) rgb {
			if (x/5+yy/5)%2 == 0 {
				return p.upper
			}
			return alt
		}
	default:
		sh = flat(p.upper)
	}
	c.poly(torso, sh, -1)
	if p.upperPattern == 4 && view == 0 {
		c.rect(int(cx-3), int(y(2.1)), int(cx+3), int(y(2.7)), flat(alt), -1)
	}
	if view == 2 {
		c.line(cx, y(1.8), cx+1, y(4.3), 4, flat(armColor), -1)
	}
	// Bags.
	switch p.bag {
	case 1:
		if view == 1 {
			c.rect(int(cx-half*0.75), int(y(1.8)), int(cx+half*0.75), int(y(3.9)), flat(p.bagColor), -1)
		} else if view == 0 {
			c.line(cx-half*0.6, y(1.5), cx-half*0.6, y(3.2), 2, flat(p.bagColor), -1)
			c.line(cx+half*0.6, y(1.5), cx+half*0.6, y(3.2), 2, flat(p.bagColor), -1)
		}
	case 2:
		c.rect(int(cx+half+1), int(y(3.8)), int(cx+half+9), int(y(4.8)), flat(p.bagColor), -1)
	case 3:
		c.line(cx-half, y(1.5), cx+half, y(3.8), 2, flat(p.bagColor), -1)
		c.rect(int(cx+half-4), int(y(3.6)), int(cx+half+4), int(y(4.3)), flat(p.bagColor), -1)
	}
	// Neck, head, hair, hat.
	c.rect(int(cx-2), int(y(1.2)), int(cx+3), int(y(1.6)), flat(p.skin), -1)
	hr := unit * 0.5
	c.ellipse(cx, y(0.7), hr*0.85, hr, flat(p.skin), -1)
	switch view {
	case 1:
		c.ellipse(cx, y(0.65), hr*0.9, hr*0.95, flat(p.hair), -1)
	case 0:
		c.ellipse(cx, y(0.35), hr*0.85, hr*0.45, flat(p.hair), -1)
	default:
		c.ellipse(cx-hr*0.25, y(0.5), hr*0.7, hr*0.7, flat(p.hair), -1)
	}
	if p.hat {
		c.ellipse(cx, y(0.3), hr*0.95, hr*0.45, flat(p.hatColor), -1)
		c.rect(int(cx-hr*0.2), int(y(0.45)), int(cx+hr*1.3), int(y(0.55)), flat(p.hatColor), -1)
	}
	// The camera: colour gain, contrast, brightness, blur, sensor noise.
	n := W * H
	for k := 0; k < 3; k++ {
		g := cam.gain[k] * cam.bright
		for i := 0; i < n; i++ {
			v := c.img.Pix[k*n+i]
			c.img.Pix[k*n+i] = ((v-0.5)*cam.contrast + 0.5) * g
		}
	}
	if cam.blur > 0 {
		boxBlur(c, cam.blur)
	}
	c.noise(r, 0.04)
	c.clamp()
	return c
}

// boxBlur blurs each channel with a (2r+1)² box, edges clamped.
func boxBlur(c *canvas, rad int) {
	w, h := c.img.W, c.img.H
	tmp := make([]float32, w*h)
	for ch := 0; ch < 3; ch++ {
		p := c.img.Plane(ch)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				var s float32
				for k := -rad; k <= rad; k++ {
					s += p[y*w+min(max(x+k, 0), w-1)]
				}
				tmp[y*w+x] = s / float32(2*rad+1)
			}
		}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				var s float32
				for k := -rad; k <= rad; k++ {
					s += tmp[min(max(y+k, 0), h-1)*w+x]
				}
				p[y*w+x] = s / float32(2*rad+1)
			}
		}
	}
}

// reidShot is one image to draw.
type reidShot struct {
	dir             string
	pid, cam, frame int
	domain          int
	identity        int // index into the domain's identities, −1 for a distractor
}

// ReID writes two re-ID domains with o.Size identities each (default 100,
// at most 1500): domain_a in the Market-1501 layout (6 cameras, bright,
// colourful, mostly short sleeves) and domain_b in the DukeMTMC-reID layout
// (8 cameras, darker winter clothing, more blur), for unsupervised domain
// adaptation. An identity is a combination of clothing colours and
// patterns, lower-body style, sleeves, bag, hat and build, distinct within
// its domain; each is seen by 2 to 4 cameras, each camera with its own
// background, viewpoint habits, colour cast, lighting and blur. The first
// half of the identities train; the rest give one query per camera they
// appear in and gallery images, with pid-0 distractors added to the
// gallery. File names follow Market-1501: PPPP_cCsS_FFFFFF_NN.jpg.
func ReID(out string, o Options) (*Summary, error) {
	if o.Easy {
		return nil, fmt.Errorf("synth reid: there is no easy variant (detection has one)")
	}
	n := o.Size
	if n <= 0 {
		n = 100
	}
	if n < 4 || n > 1500 {
		return nil, fmt.Errorf("synth reid: size %d identities, want 4..1500", n)
	}
	sum := &Summary{Task: "reid", Out: out, Seed: o.Seed, Size: n, Splits: map[string]int{}}
	err := atomicfile.Dir(out, func(tmp string) error {
		var shots []reidShot
		var people [][]person
		var cams [][]camera
		stats := map[string]any{}
		for di, d := range reidDomains {
			r := rngFor(o.Seed, 2, di)
			root := filepath.Join(tmp, "domain_"+string(rune('a'+di)))
			var cs []camera
			for range d.cameras {
				cs = append(cs, newCamera(r, d))
			}
			seen := map[string]bool{}
			var ps []person
			for len(ps) < n {
				p := newPerson(r, d)
				if seen[p.key()] {
					continue
				}
				seen[p.key()] = true
				ps = append(ps, p)
			}
			frame := 0
			for i := range ps {
				pid := i + 1
				test := i >= n/2
				camList := r.Perm(d.cameras)[:2+r.IntN(3)]
				slices.Sort(camList)
				for _, cam := range camList {
					count := 2 + r.IntN(4)
					for k := range count {
						frame += 1 + r.IntN(50)
						dir := "bounding_box_train"
						if test {
							dir = "bounding_box_test"
							if k == 0 {
								dir = "query"
							}
						}
						shots = append(shots, reidShot{dir: filepath.Join(root, dir), pid: pid, cam: cam, frame: frame, domain: di, identity: i})
						sum.Splits[fmt.Sprintf("domain_%c/%s", 'a'+di, dir)]++
					}
				}
			}
			for range max(n/10, 1) {
				frame += 1 + r.IntN(50)
				shots = append(shots, reidShot{dir: filepath.Join(root, "bounding_box_test"), pid: 0, cam: r.IntN(d.cameras), frame: frame, domain: di, identity: -1})
				sum.Splits[fmt.Sprintf("domain_%c/bounding_box_test", 'a'+di)]++
			}
			people = append(people, ps)
			cams = append(cams, cs)
			stats[fmt.Sprintf("domain_%c", 'a'+di)] = map[string]any{"layout": d.layout, "cameras": d.cameras, "identities": n}
		}
		sum.Stats = stats
		sum.Images = len(shots)
		err := parallel(len(shots), o, func(i int) error {
			s := shots[i]
			di := s.domain
			r := rngFor(o.Seed, 3, i)
			var p person
			if s.identity >= 0 {
				p = people[di][s.identity]
			} else {
				p = newPerson(r, reidDomains[di])
			}
			cam := cams[di][s.cam]
			view := pickView(r, cam.views)
			c := drawPerson(r, p, view, cam)
			name := fmt.Sprintf("%04d_c%ds1_%06d_00.jpg", s.pid, s.cam+1, s.frame)
			return writeImage(filepath.Join(s.dir, name), c.img)
		})
		if err != nil {
			return fmt.Errorf("synth reid: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sum, nil
}

func pickView(r *rand.Rand, p [3]float64) int {
	u := r.Float64() * (p[0] + p[1] + p[2])
	switch {
	case u < p[0]:
		return 0
	case u < p[0]+p[1]:
		return 1
	}
	return 2
}
