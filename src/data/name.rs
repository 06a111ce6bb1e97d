//! The two shipped datasets by name, with their class names.

use std::fmt;
use std::str::FromStr;

use super::{DataError, NUM_CLASSES};

const FASHION_CLASSES: [&str; NUM_CLASSES] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];
const DIGIT_CLASSES: [&str; NUM_CLASSES] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// One of the two shipped datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetName {
    /// Handwritten digits, data/mnist/.
    Mnist,
    /// Zalando's clothing images, data/fashion-mnist/.
    FashionMnist,
}

impl DatasetName {
    /// Both shipped datasets.
    pub const ALL: [DatasetName; 2] = [DatasetName::Mnist, DatasetName::FashionMnist];

    /// The name used on the command line and in file names.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion-mnist",
        }
    }

    /// The folder under the data root that holds this dataset's four files.
    pub fn dir_name(self) -> &'static str {
        self.as_str()
    }

    /// Human-readable class names, indexed by label.
    pub fn class_names(self) -> &'static [&'static str; NUM_CLASSES] {
        match self {
            DatasetName::Mnist => &DIGIT_CLASSES,
            DatasetName::FashionMnist => &FASHION_CLASSES,
        }
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DatasetName {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "mnist" => Ok(DatasetName::Mnist),
            "fashion-mnist" | "fashion_mnist" | "fashion" => Ok(DatasetName::FashionMnist),
            _ => Err(DataError::UnknownDataset(s.to_string())),
        }
    }
}
