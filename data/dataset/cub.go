package dataset

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// CUBFiles are the index files of the CUB-200-2011 layout, all under its
// root beside the images/ folder.
var CUBFiles = []string{"images.txt", "train_test_split.txt", "image_class_labels.txt", "classes.txt"}

// IsCUB reports whether root holds CUB-200-2011's images.txt.
func IsCUB(root string) bool {
	_, err := os.Stat(filepath.Join(root, "images.txt"))
	return err == nil
}

// ReadCUB reads a dataset in the CUB-200-2011 layout: classes.txt ("id
// name", ids from 1), images.txt ("id path", paths under root/images/),
// image_class_labels.txt ("id class_id") and train_test_split.txt ("id
// is_train", 1 for training). Classes are in classes.txt's id order, and
// labels count from 0. The test images are the val split. An image
// without a class or a split, an unknown class id or a malformed line is an
// error naming the file and line.
func ReadCUB(root string) (train, val *Set, err error) {
	read := func(name string) (map[int]string, []int, error) {
		path := filepath.Join(root, name)
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, fmt.Errorf("cub %s: %w", root, err)
		}
		defer f.Close()
		m := map[int]string{}
		var order []int
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			text := strings.TrimSpace(sc.Text())
			if text == "" {
				continue
			}
			idText, rest, ok := strings.Cut(text, " ")
			id, err := strconv.Atoi(idText)
			if !ok || err != nil || id < 1 || strings.TrimSpace(rest) == "" {
				return nil, nil, fmt.Errorf("%s line %d: %q is not \"id value\"", path, line, text)
			}
			if _, dup := m[id]; dup {
				return nil, nil, fmt.Errorf("%s line %d: id %d appears twice", path, line, id)
			}
			m[id] = strings.TrimSpace(rest)
			order = append(order, id)
		}
		if err := sc.Err(); err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", path, err)
		}
		return m, order, nil
	}
	classes, classOrder, err := read("classes.txt")
	if err != nil {
		return nil, nil, err
	}
	images, imageOrder, err := read("images.txt")
	if err != nil {
		return nil, nil, err
	}
	labels, _, err := read("image_class_labels.txt")
	if err != nil {
		return nil, nil, err
	}
	split, _, err := read("train_test_split.txt")
	if err != nil {
		return nil, nil, err
	}
	if len(classes) == 0 || len(images) == 0 {
		return nil, nil, fmt.Errorf("cub %s: no classes or no images", root)
	}
	label := map[int]int{}
	var names []string
	for _, id := range slices.Sorted(slices.Values(classOrder)) {
		label[id] = len(names)
		names = append(names, classes[id])
	}
	train = &Set{Name: "train", Classes: names}
	val = &Set{Name: "val", Classes: names}
	for _, id := range imageOrder {
		c, ok := labels[id]
		if !ok {
			return nil, nil, fmt.Errorf("cub %s: image %d (%s) has no line in image_class_labels.txt", root, id, images[id])
		}
		cid, err := strconv.Atoi(c)
		l, known := label[cid]
		if err != nil || !known {
			return nil, nil, fmt.Errorf("cub %s: image %d has class %q, not an id of classes.txt", root, id, c)
		}
		it := Item{Path: filepath.Join(root, "images", filepath.FromSlash(images[id])), Label: l}
		switch split[id] {
		case "1":
			train.Items = append(train.Items, it)
		case "0":
			val.Items = append(val.Items, it)
		default:
			return nil, nil, fmt.Errorf("cub %s: image %d has split %q in train_test_split.txt, want 1 or 0", root, id, split[id])
		}
	}
	if len(train.Items) == 0 || len(val.Items) == 0 {
		return nil, nil, fmt.Errorf("cub %s: %d training and %d test images, want both", root, len(train.Items), len(val.Items))
	}
	return train, val, nil
}
