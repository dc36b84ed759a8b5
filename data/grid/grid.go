// Package grid lays images out in a grid for previews, drawing boxes and
// tinting label masks over them.
package grid

import (
	"argus/data/imageio"
	"argus/data/transform"
)

// palette colours mask labels and boxes; label 255 stays untinted.
var palette = [][3]float32{
	{0.9, 0.1, 0.1}, {0.1, 0.8, 0.1}, {0.1, 0.3, 0.95}, {0.95, 0.85, 0.1}, {0.9, 0.1, 0.9},
	{0.1, 0.9, 0.9}, {0.95, 0.55, 0.1}, {0.5, 0.2, 0.8}, {0.5, 0.9, 0.4}, {0.6, 0.35, 0.2},
	{0.95, 0.6, 0.7}, {0.3, 0.5, 0.3}, {0.2, 0.2, 0.5}, {0.7, 0.7, 0.2}, {0.4, 0.8, 0.9},
	{0.8, 0.4, 0.4}, {0.3, 0.3, 0.3}, {0.7, 0.9, 0.7}, {0.9, 0.9, 0.9},
}

// Color returns the preview colour of a label.
func Color(label int) [3]float32 { return palette[((label%len(palette))+len(palette))%len(palette)] }

// Render returns the sample's image (grey expanded to RGB) with its mask
// tinted at half strength and its boxes outlined.
func Render(s *transform.Sample) *imageio.Image {
	src := s.Image
	m := imageio.NewImage(3, src.H, src.W)
	n := src.H * src.W
	for c := 0; c < 3; c++ {
		copy(m.Pix[c*n:(c+1)*n], src.Plane(min(c, src.C-1)))
	}
	if s.Mask != nil && s.Mask.W == src.W && s.Mask.H == src.H {
		for i, l := range s.Mask.Pix {
			if l == imageio.Ignore {
				continue
			}
			col := Color(int(l))
			for c := 0; c < 3; c++ {
				m.Pix[c*n+i] = 0.5*m.Pix[c*n+i] + 0.5*col[c]
			}
		}
	}
	for k, b := range s.Boxes {
		label := k
		if k < len(s.BoxLabels) {
			label = s.BoxLabels[k]
		}
		outline(m, b, Color(label))
	}
	return m
}

func outline(m *imageio.Image, b [4]float32, col [3]float32) {
	x0, y0 := int(b[0]), int(b[1])
	x1, y1 := int(b[2])-1, int(b[3])-1
	n := m.W * m.H
	put := func(x, y int) {
		if x >= 0 && y >= 0 && x < m.W && y < m.H {
			for c := 0; c < 3; c++ {
				m.Pix[c*n+y*m.W+x] = col[c]
			}
		}
	}
	for x := x0; x <= x1; x++ {
		put(x, y0)
		put(x, y1)
	}
	for y := y0; y <= y1; y++ {
		put(x0, y)
		put(x1, y)
	}
}

// Tile lays images out cols to a row in cells of the largest width and
// height, with a gap pixels of grey between them.
func Tile(imgs []*imageio.Image, cols, gap int) *imageio.Image {
	if len(imgs) == 0 {
		return imageio.NewImage(3, 1, 1)
	}
	cols = max(1, min(cols, len(imgs)))
	rows := (len(imgs) + cols - 1) / cols
	cw, ch := 0, 0
	for _, m := range imgs {
		cw, ch = max(cw, m.W), max(ch, m.H)
	}
	W, H := cols*cw+(cols+1)*gap, rows*ch+(rows+1)*gap
	out := imageio.NewImage(3, H, W)
	for i := range out.Pix {
		out.Pix[i] = 0.5
	}
	for k, m := range imgs {
		ox := gap + (k%cols)*(cw+gap)
		oy := gap + (k/cols)*(ch+gap)
		for c := 0; c < 3; c++ {
			src := m.Plane(min(c, m.C-1))
			dst := out.Plane(c)
			for y := 0; y < m.H; y++ {
				copy(dst[(oy+y)*W+ox:], src[y*m.W:(y+1)*m.W])
			}
		}
	}
	return out
}
