"""oogan_tf: OOGAN in TensorFlow 2 / Keras 3.

Library code in this package never reads absl FLAGS; the entry points (`oogan_tf.train`,
`oogan_tf.evaluate`, `oogan_tf.export`) turn flags into validated configs.
"""

__version__ = "0.1.0"
