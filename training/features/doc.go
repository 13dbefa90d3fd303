// Package features turns the training Frames into the feature matrices the
// trainers consume and the exported ONNX models take as their single input
// "features" [N, F] FLOAT.
//
// Demand (BuildDemand) forecasts a district's consumption for a month from
// what is known before that month: lags and rolling means of past
// consumption, the previous month's admissions, displacement, floods and
// stock-out, the calendar, the population and the district's region and
// attributes. Stock-out months are censored (consumption under-states
// demand): they are left out of the target but their values still feed the
// lags. DemandSpec.Vector builds the same features for one forecast request.
//
// Malnutrition (BuildMalnutrition) classifies a child's acute-malnutrition
// status (none, MAM, SAM) from one visit's anthropometry;
// MalnutritionVector builds the features of one visit.
//
// The feature names are the columns a serving client sends: the exported
// models carry them, comma-separated, in the metadata property
// "feature_names". docs/training.md lists them with the leakage rules.
package features
