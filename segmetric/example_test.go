package segmetric_test

import (
	"fmt"

	"argus/segmetric"
)

// A validation loop adds each image's arg-max prediction and ground truth,
// then reads the metrics once at the end.
func ExampleAccumulator() {
	acc, err := segmetric.New(segmetric.DefaultOptions(3))
	if err != nil {
		panic(err)
	}
	// Two 2×2 images; 255 in the ground truth is ignored.
	acc.Add([]uint8{0, 1, 1, 2}, []uint8{0, 1, 0, 255}, 2, 2)
	acc.Add32([]int32{2, 2, 0, 1}, []int32{2, 2, 0, 0}, 2, 2)
	m := acc.Metrics()
	fmt.Printf("aAcc %.4f mIoU %.4f mAcc %.4f\n", m.AAcc, m.MIoU, m.MAcc)
	fmt.Println("IoU", m.IoU)
	// Output:
	// aAcc 0.7143 mIoU 0.6111 mAcc 0.8333
	// IoU [0.5 0.3333333333333333 1]
}
