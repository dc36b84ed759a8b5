package box

import (
	"cmp"
	"fmt"
	"slices"
)

// byScore returns the indices of scores in decreasing order; ties keep the
// input order.
func byScore[T Float](scores []T, idx []int) []int {
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
	return idx
}

// NMS performs non-maximum suppression on xyxy boxes: it visits boxes by
// decreasing score and drops every later box whose IoU with a kept one is
// greater than iouThreshold, as torchvision.ops.nms. It returns the kept
// indices by decreasing score; equal scores keep the input order.
func NMS[T Float](boxes, scores []T, iouThreshold float64) []int {
	n := Count(boxes)
	if len(scores) != n {
		panic(fmt.Sprintf("box: %d scores for %d boxes", len(scores), n))
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return nms(boxes, byScore(scores, idx), iouThreshold)
}

// nms suppresses within order, which lists box indices by decreasing score.
func nms[T Float](boxes []T, order []int, thr float64) []int {
	area := Area(boxes)
	suppressed := make([]bool, len(order))
	var keep []int
	for a, i := range order {
		if suppressed[a] {
			continue
		}
		keep = append(keep, i)
		bi := boxes[4*i : 4*i+4]
		for b := a + 1; b < len(order); b++ {
			if suppressed[b] {
				continue
			}
			j := order[b]
			inter := intersection(bi, boxes[4*j:4*j+4])
			if float64(inter/(area[i]+area[j]-inter)) > thr {
				suppressed[b] = true
			}
		}
	}
	return keep
}

// BatchedNMS performs NMS independently per class: boxes of different
// classes never suppress each other. It returns the kept indices by
// decreasing score, as torchvision.ops.batched_nms.
func BatchedNMS[T Float](boxes, scores []T, classes []int, iouThreshold float64) []int {
	n := Count(boxes)
	if len(scores) != n || len(classes) != n {
		panic(fmt.Sprintf("box: %d scores and %d classes for %d boxes", len(scores), len(classes), n))
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	idx = byScore(scores, idx)
	// Split the score order by class; each class keeps its relative order.
	perClass := map[int][]int{}
	var classOrder []int
	for _, i := range idx {
		c := classes[i]
		if _, ok := perClass[c]; !ok {
			classOrder = append(classOrder, c)
		}
		perClass[c] = append(perClass[c], i)
	}
	var keep []int
	for _, c := range classOrder {
		keep = append(keep, nms(boxes, perClass[c], iouThreshold)...)
	}
	// Merge back into one decreasing-score order, ties by input index.
	slices.SortStableFunc(keep, func(a, b int) int {
		if c := cmp.Compare(scores[b], scores[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return keep
}
