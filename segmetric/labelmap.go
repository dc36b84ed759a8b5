package segmetric

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// ParseLabelMap reads a label map written as one JSON object from old label
// to new label, {"7": 0, "8": 1}: keys are decimal integers without sign or
// leading zeros, values integers, both in 0..MaxLabel; a key given twice is
// an error rather than silently the last one.
func ParseLabelMap(b []byte) (map[int]int, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("want a JSON object of old label to new label")
	}
	m := map[int]int{}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("bad JSON: %w", err)
		}
		key := t.(string) // object keys are always strings
		old, err := strconv.Atoi(key)
		if err != nil || old < 0 || old > MaxLabel || strconv.Itoa(old) != key {
			return nil, fmt.Errorf("key %q: want a label in 0..%d", key, MaxLabel)
		}
		if _, dup := m[old]; dup {
			return nil, fmt.Errorf("key %q given twice", key)
		}
		t, err = d.Token()
		if err != nil {
			return nil, fmt.Errorf("key %q: bad JSON: %w", key, err)
		}
		num, ok := t.(json.Number)
		v, err := strconv.Atoi(string(num))
		if !ok || err != nil || v < 0 || v > MaxLabel {
			return nil, fmt.Errorf("key %q: value %v, want a label in 0..%d", key, t, MaxLabel)
		}
		m[old] = v
	}
	if _, err := d.Token(); err != nil {
		return nil, fmt.Errorf("bad JSON: %w", err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("data after the JSON object")
	}
	return m, nil
}

// ReadLabelMap reads a label map file (see ParseLabelMap).
func ReadLabelMap(name string) (map[int]int, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read label map: %w", err)
	}
	m, err := ParseLabelMap(b)
	if err != nil {
		return nil, fmt.Errorf("label map %s: %w", name, err)
	}
	return m, nil
}
