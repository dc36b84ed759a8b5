package assign_test

import (
	"fmt"
	"log"

	"argus/assign"
)

func ExampleHungarian() {
	// Three predictions (rows) against two ground truths (columns).
	cost := []float64{
		4, 1,
		2, 0,
		2.5, 5,
	}
	rows, cols, err := assign.Hungarian(cost, 3, 2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rows, cols)
	// Output: [1 2] [1 0]
}

func ExampleTransport() {
	// Two ground truths taking up to 2 of 5 predictions each (k from
	// DynamicK or StageK); the last cost row is the background.
	cost := []float64{
		0.1, 0.2, 2.0, 2.0, 2.0,
		2.0, 2.0, 0.1, 0.3, 2.0,
		1.0, 1.0, 1.0, 1.0, 1.0,
	}
	got, _, err := assign.Transport(cost, 2, 5, []float64{2, 2}, assign.Sinkhorn{Epsilon: 0.1, MaxIter: 100})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got)
	// Output: [0 0 1 1 -1]
}
