-- Run once by the postgres image on an empty data volume.
CREATE DATABASE shop_core;
CREATE DATABASE shop_orders;
CREATE DATABASE shop_payments;
