"""Installs the oogan_tf package (presets in flags/ and tools/ are used from a checkout)."""
import setuptools

setuptools.setup(
    name="oogan_tf",
    version="0.1.0",
    description=("OOGAN (Liu et al., AAAI 2020): disentangling GAN with one-hot sampling and "
                 "orthogonal regularisation, in TensorFlow 2 / Keras 3."),
    packages=setuptools.find_packages(include=["oogan_tf", "oogan_tf.*"]),
    package_data={"oogan_tf.serving": ["static/*"]},
    python_requires=">=3.10",
    # The CPU build everywhere it is published (Linux, Windows); macOS has only `tensorflow`,
    # which is CPU-only there. `pip install .[gpu]` adds the CUDA build; both builds own the
    # `tensorflow` import package and pip does not remove tensorflow-cpu by itself (README).
    install_requires=[
        'tensorflow-cpu>=2.21,<2.22; sys_platform != "darwin"',
        'tensorflow>=2.21,<2.22; sys_platform == "darwin"',
        "tensorboard",
        "numpy",
        "absl-py",
        "pillow",
        "scikit-learn",
        "scipy",
        # --dataset=tfds:<name>[:split] (imported only for those); 4.9.10 is the tested version.
        "tensorflow-datasets>=4.9.10",
    ],
    extras_require={"gpu": ['tensorflow[and-cuda]>=2.21,<2.22; sys_platform == "linux"']},
)
