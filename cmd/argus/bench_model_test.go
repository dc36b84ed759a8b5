package main

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

func TestBenchModel(t *testing.T) {
	for _, tc := range []struct {
		args []string
		keys []string
	}{
		{[]string{"bench", "train-step", "--model", "mnist-cnn", "--batch", "2", "--iters", "1", "--warmup", "0", "--json"},
			[]string{"seconds_per_step", "images_per_second"}},
		{[]string{"bench", "infer", "--model", "mnist-cnn", "--iters", "1", "--warmup", "0", "--json"},
			[]string{"ms_per_batch"}},
		// The model's default size, not the one the run before filled in.
		{[]string{"bench", "infer", "--iters", "1", "--warmup", "0", "--json"},
			[]string{"ms_per_batch", "size:224"}},
		{[]string{"bench", "train-step", "--model", "resnet18", "--batch", "2", "--size", "32", "--iters", "1", "--warmup", "0", "--json"},
			[]string{"seconds_per_step", "images_per_second"}},
		{[]string{"bench", "train-step", "--model", "resnet18", "--classes", "20", "--batch", "2", "--size", "32", "--iters", "1", "--warmup", "0", "--json"},
			[]string{"seconds_per_step", "classes:20"}},
		{[]string{"bench", "infer", "--model", "resnet18", "--size", "32", "--iters", "2", "--warmup", "1", "--json"},
			[]string{"ms_per_batch"}},
		{[]string{"bench", "infer", "--model", "resnet18", "--size", "32", "--engine", "autograd", "--iters", "1", "--warmup", "0", "--json"},
			[]string{"ms_per_batch"}},
		{[]string{"bench", "infer", "--model", "resnet50", "--size", "32", "--iters", "1", "--warmup", "0", "--json"},
			[]string{"ms_per_batch"}},
		{[]string{"bench", "infer", "--model", "deit-tiny", "--iters", "1", "--warmup", "0", "--json"},
			[]string{"ms_per_batch", "size:224"}},
		{[]string{"bench", "train-step", "--model", "deit-tiny", "--batch", "1", "--classes", "200", "--iters", "1", "--warmup", "0", "--json"},
			[]string{"seconds_per_step", "size:224", "classes:200"}},
		// A detector's step: ATSS's loss on seeded boxes, 10 classes unless
		// --classes says otherwise.
		{[]string{"bench", "train-step", "--model", "atss-r18", "--batch", "1", "--size", "128", "--iters", "1", "--warmup", "0", "--json"},
			[]string{"seconds_per_step", "classes:10", "size:128"}},
		{[]string{"bench", "train-step", "--model", "atss-r18", "--classes", "3", "--batch", "1", "--size", "128", "--iters", "1", "--warmup", "0", "--json"},
			[]string{"classes:3"}},
	} {
		var out, errb bytes.Buffer
		if code := run(tc.args, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, errb.String())
		}
		var rep map[string]any
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("%v: output %q: %v", tc.args, out.String(), err)
		}
		for _, k := range tc.keys {
			name, want, exact := strings.Cut(k, ":")
			v, ok := rep[name].(float64)
			if !ok || !(v > 0) || exact && strconv.FormatFloat(v, 'f', -1, 64) != want {
				t.Errorf("%v: %s = %v", tc.args, name, rep[name])
			}
		}
		if strings.Count(out.String(), "\n") != 1 {
			t.Errorf("%v: want one line, got %q", tc.args, out.String())
		}
	}
}

func TestBenchModelBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "train-step", "--model", "vgg"},
		{"bench", "train-step", "--model", "mnist-cnn", "--classes", "200"},
		{"bench", "train-step", "--classes", "-1"},
		{"bench", "train-step", "--model", "mnist-cnn", "--size", "32"},
		{"bench", "train-step", "--batch", "0"},
		{"bench", "train-step", "--model", "resnet18", "--size", "16"},
		{"bench", "train-step", "--model", "atss-r18", "--size", "64"},
		{"bench", "train-step", "--model", "atss-r18", "--classes", "-2"},
		{"bench", "infer", "--iters", "0"},
		{"bench", "infer", "--warmup", "-1"},
		{"bench", "infer", "--batch", "x"},
		{"bench", "infer", "--engine", "tensorrt"},
		{"bench", "train-step", "--model", "mnist-cnn", "--classes", "20"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code == 0 {
			t.Errorf("%v: exit 0", args)
		}
		if out.Len() != 0 || strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("%v: stdout %q stderr %q", args, out.String(), errb.String())
		}
	}
}
