"""Training ops: fused optimizer updates on variables (ApplyGradientDescent, ApplyAdam, ...).

Declared by the optimizers work (raygraph.train); empty until then.
"""
