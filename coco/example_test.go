package coco_test

import (
	"fmt"
	"log"

	"argus/coco"
	"argus/data/cocofile"
)

func ExampleEvaluate() {
	gt := &cocofile.Dataset{
		Images:     []cocofile.Image{{ID: 1, Width: 640, Height: 480}},
		Categories: []cocofile.Category{{ID: 1, Name: "person"}},
		Annotations: []cocofile.Annotation{
			{ID: 1, ImageID: 1, CategoryID: 1, BBox: [4]float64{10, 10, 100, 200}, Area: 20000},
			{ID: 2, ImageID: 1, CategoryID: 1, BBox: [4]float64{300, 50, 80, 80}, Area: 6400},
		},
	}
	dt := []cocofile.Result{
		{ImageID: 1, CategoryID: 1, BBox: [4]float64{12, 8, 100, 205}, Score: 0.9},
		{ImageID: 1, CategoryID: 1, BBox: [4]float64{200, 200, 50, 50}, Score: 0.8},
		{ImageID: 1, CategoryID: 1, BBox: [4]float64{305, 55, 80, 70}, Score: 0.3},
	}
	e, err := coco.Evaluate(gt, dt)
	if err != nil {
		log.Fatal(err)
	}
	s := e.Summary()
	fmt.Printf("AP %.3f AP50 %.3f AR100 %.3f APs %.0f\n", s.AP, s.AP50, s.AR100, s.APs)
	// Output: AP 0.652 AP50 0.835 AR100 0.750 APs -1
}
