package dataset

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ImageNetLabelFiles are the names under an ImageNet root, tried in order,
// of the labels file of a flat val/ folder: Kaggle's LOC_val_solution.csv
// (ImageId,PredictionString, the class the first word of the prediction
// string), or val_labels.txt or val/labels.txt with one "file class" pair
// a line (blank lines and lines starting with # skipped).
var ImageNetLabelFiles = []string{"LOC_val_solution.csv", "val_labels.txt", filepath.Join("val", "labels.txt")}

// ReadImageNet reads a classification dataset in the ImageNet layout:
// root/train/CLASS/*.JPEG (any JPEG or PNG, at any depth, as ReadFolder)
// and either root/val/CLASS/... with the same class folders or a flat
// root/val/ of images named by a labels file (labels, or else the first of
// ImageNetLabelFiles present). Classes are the train/ folders in sorted
// order, the numbering the ImageNet training scripts use, and the val
// split's labels follow it. A class folder in one split and not the other,
// a labels line naming a class train/ lacks, or an image in a flat val/
// without a label is an error naming it.
func ReadImageNet(root, labels string) (train, val *Set, err error) {
	train, err = ReadFolder(filepath.Join(root, "train"))
	if err != nil {
		return nil, nil, fmt.Errorf("imagenet %s: %w", root, err)
	}
	train.Name = "train"
	valDir := filepath.Join(root, "val")
	entries, err := os.ReadDir(valDir)
	if err != nil {
		return nil, nil, fmt.Errorf("imagenet %s: %w", root, err)
	}
	flat := labels != ""
	for _, e := range entries {
		if !e.IsDir() && IsImage(e.Name()) {
			flat = true
		}
	}
	if !flat {
		val, err = ReadFolder(valDir)
		if err != nil {
			return nil, nil, fmt.Errorf("imagenet %s: %w", root, err)
		}
		val.Name = "val"
		for _, c := range val.Classes {
			if _, ok := slices.BinarySearch(train.Classes, c); !ok {
				return nil, nil, fmt.Errorf("imagenet %s: class folder %s is in val/ but not in train/", root, c)
			}
		}
		for _, c := range train.Classes {
			if _, ok := slices.BinarySearch(val.Classes, c); !ok {
				return nil, nil, fmt.Errorf("imagenet %s: class folder %s is in train/ but not in val/", root, c)
			}
		}
		return train, val, nil
	}
	if labels == "" {
		for _, name := range ImageNetLabelFiles {
			if _, err := os.Stat(filepath.Join(root, name)); err == nil {
				labels = filepath.Join(root, name)
				break
			}
		}
		if labels == "" {
			return nil, nil, fmt.Errorf("imagenet %s: val/ holds images but no class folders, and there is no labels file (%s)",
				root, strings.Join(ImageNetLabelFiles, ", "))
		}
	}
	byFile, err := readValLabels(labels)
	if err != nil {
		return nil, nil, err
	}
	val = &Set{Name: "val", Classes: train.Classes}
	for _, e := range entries {
		if e.IsDir() || !IsImage(e.Name()) {
			continue
		}
		name := e.Name()
		class, ok := byFile[name]
		if !ok {
			class, ok = byFile[strings.TrimSuffix(name, filepath.Ext(name))]
		}
		if !ok {
			return nil, nil, fmt.Errorf("imagenet %s: %s has no label in %s", root, filepath.Join(valDir, name), labels)
		}
		label, found := slices.BinarySearch(train.Classes, class)
		if !found {
			return nil, nil, fmt.Errorf("imagenet %s: %s labels %s as %s, which is not a class folder in train/", root, labels, name, class)
		}
		val.Items = append(val.Items, Item{Path: filepath.Join(valDir, name), Label: label})
	}
	if len(val.Items) == 0 {
		return nil, nil, fmt.Errorf("imagenet %s: val/ has no images", root)
	}
	return train, val, nil
}

// readValLabels reads a labels file of a flat val/ folder into file name
// (as written, with or without its extension) to class.
func readValLabels(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read labels: %w", err)
	}
	defer f.Close()
	csv := strings.EqualFold(filepath.Ext(path), ".csv")
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var file, class string
		if csv {
			if n == 1 && strings.HasPrefix(line, "ImageId,") {
				continue
			}
			id, pred, ok := strings.Cut(line, ",")
			words := strings.Fields(pred)
			if !ok || id == "" || len(words) == 0 {
				return nil, fmt.Errorf("%s:%d: want ImageId,PredictionString, got %q", path, n, line)
			}
			file, class = id, words[0]
		} else {
			words := strings.Fields(line)
			if len(words) != 2 {
				return nil, fmt.Errorf("%s:%d: want a file name and a class, got %q", path, n, line)
			}
			file, class = words[0], words[1]
		}
		if prev, dup := out[file]; dup && prev != class {
			return nil, fmt.Errorf("%s:%d: %s labelled %s and %s", path, n, file, prev, class)
		}
		out[file] = class
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no labels", path)
	}
	return out, nil
}
