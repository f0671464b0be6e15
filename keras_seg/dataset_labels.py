"""Class names and colour palettes of the datasets the released models were trained on."""

import numpy as np

PASCAL_VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
    "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
    "sheep", "sofa", "train", "tvmonitor",
)


def pascal_palette(num_classes=256):
    """The PASCAL VOC colour map: class bits spread over the high bits of R, G and B.

    Args:
        num_classes: how many colours.

    Returns:
        A (num_classes, 3) uint8 RGB array.

    Example:
        >>> pascal_palette(3).tolist()
        [[0, 0, 0], [128, 0, 0], [0, 128, 0]]
    """
    labels = np.arange(num_classes)
    palette = np.zeros((num_classes, 3), np.uint8)
    for shift in range(8):
        for channel in range(3):
            bit = (labels >> (3 * shift + channel)) & 1
            palette[:, channel] |= (bit << (7 - shift)).astype(np.uint8)
    return palette


#: The 11 CamVid classes in the order of the DilatedNet (and KITTI) releases, with the
#: CamVid colour codes that fyu/dilation's dataset files give them.
CAMVID_CLASSES = ("building", "tree", "sky", "car", "sign", "road", "pedestrian", "fence",
                  "pole", "sidewalk", "bicyclist")
CAMVID_PALETTE = ((128, 0, 0), (128, 128, 0), (128, 128, 128), (64, 0, 128), (192, 128, 128),
                  (128, 64, 128), (64, 64, 0), (64, 64, 128), (192, 192, 128), (0, 0, 192),
                  (0, 128, 192))
#: The 19 Cityscapes training classes (trainId order) and their official colours.
CITYSCAPES_CLASSES = ("road", "sidewalk", "building", "wall", "fence", "pole", "traffic light",
                      "traffic sign", "vegetation", "terrain", "sky", "person", "rider", "car",
                      "truck", "bus", "train", "motorcycle", "bicycle")
CITYSCAPES_PALETTE = ((128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156),
                      (190, 153, 153), (153, 153, 153), (250, 170, 30), (220, 220, 0),
                      (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60),
                      (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100),
                      (0, 0, 230), (119, 11, 32))
#: Mean pixels (B, G, R) of the DilatedNet releases (fyu/dilation datasets/*.json).
DILATION_BGR_MEANS = {
    "pascal_voc": (102.93, 111.36, 116.52),
    "camvid": (110.70313206, 108.77808759, 105.41212523),
    "kitti": (96.19429688, 95.55136972, 91.34692262),
    "cityscapes": (72.39, 82.91, 73.16),
}

#: The 11 CamVid classes in the order of the SegNet releases (SegNet-Tutorial's
#: test_segmentation_camvid.py), which differs from DilatedNet's, with their colours.
SEGNET_CAMVID_CLASSES = ("sky", "building", "pole", "road", "pavement", "tree", "sign_symbol",
                         "fence", "car", "pedestrian", "bicyclist")
SEGNET_CAMVID_PALETTE = ((128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128),
                         (60, 40, 222), (128, 128, 0), (192, 128, 128), (64, 64, 128),
                         (64, 0, 128), (64, 64, 0), (0, 128, 192))

#: The 12 road classes of SegNet's driving web demo (``segnet_model_driving_webdemo``):
#: SegNet's CamVid classes with road marking, in the web demo's label order, and the colours
#: of its look-up table (road marking (255, 69, 0)).
SEGNET_DRIVING_CLASSES = ("sky", "building", "pole", "road_marking", "road", "pavement", "tree",
                          "sign_symbol", "fence", "car", "pedestrian", "bicyclist")
SEGNET_DRIVING_PALETTE = ((128, 128, 128), (128, 0, 0), (192, 192, 128), (255, 69, 0),
                          (128, 64, 128), (60, 40, 222), (128, 128, 0), (192, 128, 128),
                          (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192))
#: SUN RGB-D's 37 classes (its toolbox's ``seg37list``) after label 0, unlabelled: the 38
#: outputs of SegNet's SUN model, whose training ignored label 0.
SUN_RGBD_CLASSES = (
    "unlabelled", "wall", "floor", "cabinet", "bed", "chair", "sofa", "table", "door", "window",
    "bookshelf", "picture", "counter", "blinds", "desk", "shelves", "curtain", "dresser",
    "pillow", "mirror", "floor_mat", "clothes", "ceiling", "books", "fridge", "tv", "paper",
    "towel", "shower_curtain", "box", "whiteboard", "person", "night_stand", "toilet", "sink",
    "lamp", "bathtub", "bag",
)
