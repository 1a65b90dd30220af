"""Users' images: decoding any common file safely, as they are ("as_is") or through the
MNIST recipe that turns a drawn digit into what the models saw in training (`input_spec`
says which a run takes). No TensorFlow here."""
