// Package box is the geometry of axis-aligned boxes for detection:
// conversions between formats, areas, pairwise IoU and generalized IoU,
// non-maximum suppression, the delta box coder, and clipping.
//
// Boxes are flat slices of 4n coordinates, box i at [4i, 4i+4), so a tensor's
// data of shape (n, 4) can be used directly. Inside argus boxes are xyxy
// (x1, y1, x2, y2) in pixels; xywh (x, y, width, height) is COCO's file
// format and cxcywh (centre x, centre y, width, height) the form Sparse R-CNN
// learns. The functions follow torchvision.ops semantics.
package box

import "fmt"

// Float is the element type of box slices.
type Float interface{ ~float32 | ~float64 }

// Count returns the number of boxes in b. It panics if len(b) is not a
// multiple of 4, which is a programmer error.
func Count[T Float](b []T) int {
	if len(b)%4 != 0 {
		panic(fmt.Sprintf("box: %d coordinates is not a whole number of boxes", len(b)))
	}
	return len(b) / 4
}

// out returns dst if it has room for n values, or a new slice.
func out[T Float](dst []T, n int) []T {
	if len(dst) == n {
		return dst
	}
	if dst != nil {
		panic(fmt.Sprintf("box: destination has %d values, want %d", len(dst), n))
	}
	return make([]T, n)
}

// XYWHToXYXY converts xywh boxes to xyxy into dst (allocated when nil; it
// may be src) and returns it.
func XYWHToXYXY[T Float](dst, src []T) []T {
	dst = out(dst, 4*Count(src))
	for i := 0; i < len(src); i += 4 {
		x, y, w, h := src[i], src[i+1], src[i+2], src[i+3]
		dst[i], dst[i+1], dst[i+2], dst[i+3] = x, y, x+w, y+h
	}
	return dst
}

// XYXYToXYWH converts xyxy boxes to xywh.
func XYXYToXYWH[T Float](dst, src []T) []T {
	dst = out(dst, 4*Count(src))
	for i := 0; i < len(src); i += 4 {
		x1, y1, x2, y2 := src[i], src[i+1], src[i+2], src[i+3]
		dst[i], dst[i+1], dst[i+2], dst[i+3] = x1, y1, x2-x1, y2-y1
	}
	return dst
}

// CXCYWHToXYXY converts centre-size boxes to xyxy as torchvision's
// _box_cxcywh_to_xyxy does: x1 = cx - 0.5*w.
func CXCYWHToXYXY[T Float](dst, src []T) []T {
	dst = out(dst, 4*Count(src))
	for i := 0; i < len(src); i += 4 {
		cx, cy, w, h := src[i], src[i+1], src[i+2], src[i+3]
		hw, hh := T(0.5)*w, T(0.5)*h
		dst[i], dst[i+1], dst[i+2], dst[i+3] = cx-hw, cy-hh, cx+hw, cy+hh
	}
	return dst
}

// XYXYToCXCYWH converts xyxy boxes to centre-size: cx = (x1+x2)/2.
func XYXYToCXCYWH[T Float](dst, src []T) []T {
	dst = out(dst, 4*Count(src))
	for i := 0; i < len(src); i += 4 {
		x1, y1, x2, y2 := src[i], src[i+1], src[i+2], src[i+3]
		dst[i], dst[i+1], dst[i+2], dst[i+3] = (x1+x2)/2, (y1+y2)/2, x2-x1, y2-y1
	}
	return dst
}

// Area returns the area (x2-x1)*(y2-y1) of each xyxy box.
func Area[T Float](b []T) []T {
	a := make([]T, Count(b))
	for i := range a {
		a[i] = T((b[4*i+2] - b[4*i]) * (b[4*i+3] - b[4*i+1]))
	}
	return a
}

// IoU returns the n x m matrix (row-major) of the intersection over union of
// every xyxy box of a with every one of b, as torchvision's box_iou: a pair
// whose union is empty gives NaN.
func IoU[T Float](a, b []T) []T {
	n, m := Count(a), Count(b)
	areaA, areaB := Area(a), Area(b)
	o := make([]T, n*m)
	for i := range n {
		ai := a[4*i : 4*i+4]
		for j := range m {
			bj := b[4*j : 4*j+4]
			inter := intersection(ai, bj)
			o[i*m+j] = inter / (areaA[i] + areaB[j] - inter)
		}
	}
	return o
}

// intersection is the area of the overlap of two xyxy boxes.
func intersection[T Float](a, b []T) T {
	w := max(min(a[2], b[2])-max(a[0], b[0]), 0)
	h := max(min(a[3], b[3])-max(a[1], b[1]), 0)
	return T(w * h)
}

// GIoU returns the n x m matrix of generalized IoU, as torchvision's
// generalized_box_iou: IoU - (C - U)/C, with C the area of the smallest box
// enclosing both.
func GIoU[T Float](a, b []T) []T {
	n, m := Count(a), Count(b)
	areaA, areaB := Area(a), Area(b)
	o := make([]T, n*m)
	for i := range n {
		ai := a[4*i : 4*i+4]
		for j := range m {
			bj := b[4*j : 4*j+4]
			inter := intersection(ai, bj)
			union := areaA[i] + areaB[j] - inter
			iou := inter / union
			w := max(max(ai[2], bj[2])-min(ai[0], bj[0]), 0)
			h := max(max(ai[3], bj[3])-min(ai[1], bj[1]), 0)
			c := T(w * h)
			o[i*m+j] = iou - (c-union)/c
		}
	}
	return o
}

// Clip clips xyxy boxes in place to an image of the given width and height:
// x to [0, width], y to [0, height], as torchvision's clip_boxes_to_image.
func Clip[T Float](b []T, width, height T) {
	Count(b)
	for i := 0; i < len(b); i += 4 {
		b[i] = min(max(b[i], 0), width)
		b[i+1] = min(max(b[i+1], 0), height)
		b[i+2] = min(max(b[i+2], 0), width)
		b[i+3] = min(max(b[i+3], 0), height)
	}
}

// RemoveSmall returns the indices of the xyxy boxes whose width and height
// are both at least minSize, as torchvision's remove_small_boxes.
func RemoveSmall[T Float](b []T, minSize T) []int {
	var keep []int
	for i := range Count(b) {
		if b[4*i+2]-b[4*i] >= minSize && b[4*i+3]-b[4*i+1] >= minSize {
			keep = append(keep, i)
		}
	}
	return keep
}
