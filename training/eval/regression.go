package eval

import "math"

// RegressionMetrics scores numeric forecasts y-hat against actuals y over N
// rows. Ratios are fractions; an undefined metric is NaN (JSON null).
type RegressionMetrics struct {
	// N is the number of rows scored.
	N int `json:"n"`
	// WAPE is Σ|y−ŷ| / Σ|y|: the error as a share of the volume, so large
	// districts weigh in proportion. Undefined when every y is 0.
	WAPE Metric `json:"wape"`
	// MAPE is the mean of |y−ŷ|/|y| over the rows where y ≠ 0: rows with a
	// zero actual have no percentage error and are left out (MAPERows
	// counts the rows used). Undefined when every y is 0.
	MAPE     Metric `json:"mape"`
	MAPERows int    `json:"mape_rows"`
	// RMSE is sqrt(mean((y−ŷ)²)), in the target's units.
	RMSE Metric `json:"rmse"`
	// MAE is mean(|y−ŷ|), in the target's units.
	MAE Metric `json:"mae"`
	// Bias is Σ(ŷ−y) / Σy, signed: positive is over-forecasting (stock
	// left over), negative is under-forecasting (stock-outs). Undefined
	// when Σy is 0.
	Bias Metric `json:"bias"`
	// Actual and Predicted are Σy and Σŷ.
	Actual    float64 `json:"actual_total"`
	Predicted float64 `json:"predicted_total"`
}

// Regression scores predictions pred against actuals y (same length).
// Rows where either is NaN are skipped.
func Regression(y, pred []float64) RegressionMetrics {
	var a regAcc
	for i := range min(len(y), len(pred)) {
		if math.IsNaN(y[i]) || math.IsNaN(pred[i]) {
			continue
		}
		a.add(y[i], pred[i])
	}
	return a.metrics()
}

// regAcc accumulates the sums the regression metrics are made of.
type regAcc struct {
	n                   int
	absErr, absY, sqErr float64
	sumY, sumPred       float64
	ape                 float64
	apeN                int
}

func (a *regAcc) add(y, pred float64) {
	e := pred - y
	a.n++
	a.absErr += math.Abs(e)
	a.absY += math.Abs(y)
	a.sqErr += e * e
	a.sumY += y
	a.sumPred += pred
	if y != 0 {
		a.ape += math.Abs(e) / math.Abs(y)
		a.apeN++
	}
}

func (a *regAcc) metrics() RegressionMetrics {
	m := RegressionMetrics{
		N:         a.n,
		WAPE:      ratio(a.absErr, a.absY),
		MAPE:      ratio(a.ape, float64(a.apeN)),
		MAPERows:  a.apeN,
		RMSE:      undefined,
		MAE:       ratio(a.absErr, float64(a.n)),
		Bias:      ratio(a.sumPred-a.sumY, a.sumY),
		Actual:    a.sumY,
		Predicted: a.sumPred,
	}
	if a.n > 0 {
		m.RMSE = Metric(math.Sqrt(a.sqErr / float64(a.n)))
	}
	return m
}
