package main

import (
	"errors"

	"github.com/chainwatch/chainwatch/detectors"
)

// runLearnedOrContext runs the learned-kernel and the context-aware MMD.
// learned_kernel_mmd reports its trained kernel (bandwidths, ε, the
// training objective before and after) among the params. context_mmd reads
// the contexts from --context-ref/--context-cur: numeric rows, one per row
// of the corresponding sample (a categorical context such as a topic goes
// in one-hot encoded).
func runLearnedOrContext(name string, in *detectInput, pval float64) (detectors.Result, error) {
	p := in.p
	x, y, err := in.numeric("embeddings")
	if err != nil {
		return detectors.Result{}, err
	}
	if name == "learned_kernel_mmd" {
		r, _, err := detectors.LearnedKernelMMD(x, y, detectors.LearnedKernelOptions{
			PVal: pval, NPermutations: p.int("n_permutations", detectors.DefaultNPermutations),
			TrainSize: p.float("train_size", detectors.DefaultLearnedTrainSize), Epochs: p.int("epochs", detectors.DefaultLearnedEpochs),
			BatchSize: p.int("batch_size", detectors.DefaultLearnedBatchSize), LearningRate: p.float("learning_rate", detectors.DefaultLearnedLearningRate),
			Hidden: p.int("hidden", detectors.DefaultLearnedHidden), Features: p.int("features", detectors.DefaultLearnedFeatures), Seed: in.seed,
		})
		return r, err
	}
	if in.ctxRef == nil || in.ctxCur == nil {
		return detectors.Result{}, errors.New("context_mmd needs --context-ref and --context-cur (one numeric context row per sample row)")
	}
	cx, err := dense(in.ctxRef, "reference context")
	if err != nil {
		return detectors.Result{}, err
	}
	cy, err := dense(in.ctxCur, "current context")
	if err != nil {
		return detectors.Result{}, err
	}
	lam := p.floats("lambda")
	o := detectors.ContextMMDOptions{
		PVal: pval, NPermutations: p.int("n_permutations", detectors.DefaultContextNPermutations),
		PropCHeld: p.float("prop_c_held", detectors.DefaultContextPropCHeld), NFolds: p.int("n_folds", detectors.DefaultContextNFolds),
		SigmaX: p.float("sigma", 0), SigmaC: p.float("sigma_c", 0), Seed: in.seed,
	}
	switch len(lam) {
	case 0:
	case 1:
		o.Lambda = [2]float64{lam[0], lam[0]}
	case 2:
		o.Lambda = [2]float64{lam[0], lam[1]}
	default:
		return detectors.Result{}, errors.New("--param lambda takes one value or two (reference,current)")
	}
	return detectors.ContextMMD(x, y, cx, cy, o)
}
