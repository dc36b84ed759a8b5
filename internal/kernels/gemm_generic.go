//go:build purego || !amd64

package kernels

// kernelsAvailable lists every kernel this build can run on this CPU:
// without assembly, the portable one.
func kernelsAvailable() []*microKernel { return []*microKernel{goKernel} }

// addRowsAsm is absent without assembly; col2im runs in Go.
var addRowsAsm func(dst *float32, ldd int, src *float32, lds, rows, n int)

// rowKernels is empty without assembly: col2im and im2col run in Go.
var rowKernels []rowKernel

// transposeAsm is absent without assembly; packing runs in Go.
var transposeAsm func(dst *float32, ldd int, src *float32, lds, rows, lanes int)

// transposeBlock is the side of transposeAsm's blocks; zero without it.
var transposeBlock int

// convBest is the convolution kernel ConvNHWC uses: the portable one.
var convBest = convGo

// convKernelsAvailable lists every convolution kernel this build runs.
func convKernelsAvailable() []*convKernel { return []*convKernel{convGo} }

// maxRunAsm is absent without assembly; max pooling runs in Go.
var (
	maxRunAsm   func(dst, src *float32, n int)
	maxRunWidth int
)

// dwBest is the depthwise kernel DepthwiseNHWC uses: the portable one.
var dwBest = dwGo

// dwKernelsAvailable lists every depthwise kernel this build runs.
func dwKernelsAvailable() []*dwKernel { return []*dwKernel{dwGo} }

// ew has no assembly: the element-wise kernels run in Go.
var ew = &elementwise{}
