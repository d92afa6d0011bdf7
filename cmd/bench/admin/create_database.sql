-- {{.}} is the bench database's name, quoted as an identifier (DDL takes no bind parameters).
CREATE DATABASE {{.}}
