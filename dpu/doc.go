// Package dpu is a software model of a DPU-style FPGA accelerator after
// Xilinx's DPUCZDX8G: its subpackages define the instruction set (isa),
// translate programs between text and binary (asm), describe the machines a
// program runs on (target), execute programs bit for bit with a cycle model
// of the load, compute and save engines (sim), and hold plain reference
// layers to check the simulator against (ref). docs/DPU-ISA.md is the
// reference manual.
package dpu
