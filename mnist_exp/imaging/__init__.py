"""Users' images: decoding any common file safely, and the MNIST recipe that turns a drawn
digit into what the models saw in training. No TensorFlow here."""
