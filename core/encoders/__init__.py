"""Encoder backends beside sentence-transformers on torch: the offline ONNX export with its
cache (:mod:`core.encoders.export`) and the ONNX Runtime encoder (:mod:`core.encoders.onnx`)."""
