package eval_test

import (
	"fmt"

	"github.com/lantern-mlops/lantern/training/eval"
)

func ExampleCheck() {
	// SAM is rare: 50 cases among 500 children, 31 of them found.
	classes := []string{"none", "mam", "sam"}
	var actual, pred []int
	for i := range 500 {
		switch {
		case i < 400:
			actual, pred = append(actual, 0), append(pred, 0)
		case i < 450:
			actual, pred = append(actual, 1), append(pred, 1)
		case i < 481:
			actual, pred = append(actual, 2), append(pred, 2)
		default:
			actual, pred = append(actual, 2), append(pred, 1)
		}
	}
	rep, err := eval.EvaluateClassifier(eval.ClassificationData{Classes: classes, Actual: actual, Pred: pred}, eval.ClassificationOptions{})
	if err != nil {
		panic(err)
	}
	gates, err := eval.ParseGates([]byte("classification:\n  max_brier: null\n"))
	if err != nil {
		panic(err)
	}
	for _, f := range eval.Check(rep, gates) {
		fmt.Println(f.Message)
	}
	fmt.Printf("sam_recall %.2f, macro_f1 %.3f\n", rep.Metrics()["sam_recall"], rep.Metrics()["macro_f1"])
	// Output:
	// SAM recall 0.62 is below the gate 0.80 by 0.18
	// sam_recall 0.62, macro_f1 0.869
}
